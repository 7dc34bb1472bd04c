"""Node audit: what the accelerators, management daemons and listeners of a node show.

The "security black box" worry about imported accelerators (firmware and update rights kept by
the vendor, remote management and telemetry, location tracking) can be checked in part on the
node itself. :func:`audit_node` runs the vendor tools it finds (``nvidia-smi -q -x``,
``nvidia-smi conf-compute -q``, ``npu-smi info``, ``npu-smi info -t board -i N``), notes tools it
has no parser for (Cambricon ``cnmon``, Kunlunxin ``xpu-smi``, Hygon ``hy-smi``, MetaX
``mx-smi``, Moore Threads ``mthreads-gmi``, AMD ``amd-smi``/``rocm-smi``), and reads ``/proc`` for
known management daemons and TCP listeners. :func:`audit_recorded` reads the same tool outputs
recorded on another machine. Nothing here opens a network connection; tools run as local
subprocesses with a timeout, and a tool that fails is reported as a finding.

Observations and register items
-------------------------------
Each result carries a list of :class:`Observation` ``(topic, value, evidence)``. The topic names
below are stable: they are only ever added, never renamed, and :class:`Observation` refuses a
name that is not in :data:`TOPICS`. The value is a scalar, or the tuple of distinct values where
devices of the node disagree (a node with two VBIOS versions shows both); a topic the audit could
not observe is absent rather than guessed, except ``cc.mode``, which reads ``unknown`` with the
reason. On a node with both NVIDIA and Ascend devices a device topic appears once per vendor.

A sovereignty-register item refers to the node audit by listing topic selectors, each an exact
topic or a prefix ``area.*`` (``*`` alone selects all), e.g.::

    id: remote-telemetry
    audit_topics: [telemetry.*, network.management_listeners]

:func:`select` returns the observations such a list selects; whether a value confirms or
contradicts the item (``telemetry.dcgm_running`` is ``True``; ``cc.mode`` is ``ON``) is the
register's rule to state, not this package's.

=================================  ===========================================================
topic                              value
=================================  ===========================================================
node.accelerator_tools             accelerator tools found (tuple of names)
node.unparsed_tools                tools found that suanli cannot parse (tuple)
accelerator.count                  GPUs or NPU cards parsed (0 only if no tool or device node)
accelerator.chip_count             Ascend chips (2 per card on Atlas A3)
accelerator.models                 product or chip names
accelerator.health                 Ascend health (OK, Warning, Alarm, Critical)
driver.version                     driver version
driver.cuda_version                CUDA version the NVIDIA driver supports
firmware.vbios_version             NVIDIA VBIOS version
firmware.inforom_version           NVIDIA InfoROM image version
firmware.gsp_version               NVIDIA GSP firmware version
firmware.npu_version               Ascend firmware version
firmware.compatibility             Ascend driver/firmware compatibility (OK, ...)
ecc.mode                           current ECC mode
ecc.corrected_errors               lifetime corrected ECC errors, summed
ecc.uncorrected_errors             lifetime uncorrected ECC errors, summed
mig.mode                           MIG mode (Enabled, Disabled, N/A)
mig.device_count                   MIG devices, summed over GPUs
virtualization.mode                GPU virtualization mode
cc.mode                            confidential computing: ON, OFF, DEVTOOLS, PPCIE, unknown
cc.ready_state                     CC GPUs ready state
cc.protected_memory_mib            CC-protected memory, summed (non-zero only with CC on)
telemetry.daemons                  known management daemons running (tuple)
telemetry.<daemon>_running         one boolean per daemon in :data:`KNOWN_DAEMONS`
network.listeners                  TCP LISTEN sockets with owning processes
network.management_listeners       LISTEN sockets held by a known management daemon
=================================  ===========================================================

``telemetry.<daemon>_running`` stands for ``nvidia_persistenced``, ``dcgm`` (nv-hostengine),
``dcgm_exporter``, ``fabricmanager``, ``nvidia_gridd``, ``nvidia_imex``, ``ascend_dmp``
(dmp_daemon), ``ascend_slogd``, ``npu_exporter`` and ``ascend_hccn``. :data:`TOPICS` holds the
full list with a description of each.
"""

from suanli.audit.ascend import AscendBoard, AscendChip, AscendReport, parse_npu_smi
from suanli.audit.node import NodeAudit, ToolStatus, audit_node, audit_recorded
from suanli.audit.nvidia import ConfCompute, NvidiaGpu, NvidiaReport, parse_conf_compute, parse_nvidia_smi_xml
from suanli.audit.observation import TOPICS, Observation, select, topic_matches
from suanli.audit.procfs import KNOWN_DAEMONS, Listener, parse_proc_net_tcp
from suanli.audit.tools import TOOLS

__all__ = [
    "AscendBoard",
    "AscendChip",
    "AscendReport",
    "ConfCompute",
    "KNOWN_DAEMONS",
    "Listener",
    "NodeAudit",
    "NvidiaGpu",
    "NvidiaReport",
    "Observation",
    "TOOLS",
    "TOPICS",
    "ToolStatus",
    "audit_node",
    "audit_recorded",
    "parse_conf_compute",
    "parse_npu_smi",
    "parse_nvidia_smi_xml",
    "parse_proc_net_tcp",
    "select",
    "topic_matches",
]
