"""Observations: what a node audit saw, each under a stable topic name a register item can cite.

An :class:`Observation` is ``(topic, value, evidence)``: the topic is one of :data:`TOPICS`
(checked on construction, so a typo cannot mint a new name), the value is a scalar or, where
devices of one node disagree, the tuple of their distinct values, and the evidence says which
tool or file showed it. :func:`select` picks observations by exact topic or by ``area.*`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, field_validator

#: What an observation can hold: a scalar, or the distinct values where devices disagree.
ObservationValue = str | int | float | bool | tuple[str, ...] | None

#: Every topic an audit can emit, with what its value means. Names are part of the interface:
#: register items cite them, so they are only ever added, never renamed.
TOPICS: dict[str, str] = {
    "node.accelerator_tools": "accelerator management tools found (on PATH or in the usual install dirs)",
    "node.unparsed_tools": "tools found for which suanli has no parser (presence only)",
    "accelerator.count": "accelerators the parsed tools list (NVIDIA GPUs; Ascend NPU cards)",
    "accelerator.chip_count": "Ascend chips (dies) the table lists; 2 per card on Atlas A3",
    "accelerator.models": "product or chip names",
    "accelerator.health": "health the vendor tool reports (Ascend: OK, Warning, Alarm, Critical)",
    "driver.version": "driver version (NVIDIA driver; Ascend 'Software Version' / npu-smi 'Version')",
    "driver.cuda_version": "highest CUDA version the NVIDIA driver supports",
    "firmware.vbios_version": "NVIDIA VBIOS version",
    "firmware.inforom_version": "NVIDIA InfoROM image version",
    "firmware.gsp_version": "NVIDIA GSP firmware version ('N/A' where GSP firmware is not in use)",
    "firmware.npu_version": "Ascend NPU firmware version (npu-smi info -t board)",
    "firmware.compatibility": "Ascend driver/firmware compatibility check (npu-smi info -t board)",
    "ecc.mode": "current ECC mode",
    "ecc.corrected_errors": "aggregate (lifetime) corrected ECC errors, summed over devices",
    "ecc.uncorrected_errors": "aggregate (lifetime) uncorrected ECC errors, summed over devices",
    "mig.mode": "current MIG mode (Enabled, Disabled, or N/A where unsupported)",
    "mig.device_count": "MIG devices (GPU/compute instance pairs), summed over GPUs",
    "virtualization.mode": "GPU virtualization mode (None, Pass-Through, VGPU, Host VGPU, ...)",
    "cc.mode": "confidential-computing mode: ON, OFF, DEVTOOLS, PPCIE or unknown",
    "cc.ready_state": "confidential-computing GPUs ready state (nvidia-smi conf-compute -q)",
    "cc.protected_memory_mib": "CC-protected GPU memory, summed over GPUs (non-zero only with CC on)",
    "telemetry.daemons": "known management/telemetry daemons running on the node",
    "telemetry.nvidia_persistenced_running": "nvidia-persistenced is running",
    "telemetry.dcgm_running": "DCGM host engine (nv-hostengine) is running",
    "telemetry.dcgm_exporter_running": "dcgm-exporter (Prometheus metrics over HTTP) is running",
    "telemetry.fabricmanager_running": "NVIDIA fabric manager (nv-fabricmanager) is running",
    "telemetry.nvidia_gridd_running": "nvidia-gridd (vGPU licence client) is running",
    "telemetry.nvidia_imex_running": "nvidia-imex (multi-node NVLink memory export) is running",
    "telemetry.ascend_dmp_running": "Ascend device management daemon (dmp_daemon) is running",
    "telemetry.ascend_slogd_running": "Ascend log daemon (slogd) is running",
    "telemetry.npu_exporter_running": "Huawei NPU Exporter (Prometheus metrics) is running",
    "telemetry.ascend_hccn_running": "a process whose name starts with 'hccn' is running",
    "network.listeners": "TCP sockets in LISTEN state (IPv4 and IPv6), with owning processes where readable",
    "network.management_listeners": "LISTEN sockets owned by a known management/telemetry daemon",
}


class Observation(BaseModel):
    """One fact about the node, under a stable topic, with the evidence that shows it."""

    model_config = ConfigDict(frozen=True)

    topic: str
    value: ObservationValue
    evidence: str

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, topic: str) -> str:
        if topic not in TOPICS:
            raise ValueError(f"unknown audit topic {topic!r}; add it to suanli.audit.observation.TOPICS")
        return topic


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` is ``pattern`` itself or, for ``"area.*"``, lies under ``area``."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return topic.startswith(pattern[:-1])
    return topic == pattern


def select(observations: Iterable[Observation], patterns: Sequence[str]) -> tuple[Observation, ...]:
    """The observations whose topic matches any of ``patterns`` (exact names or ``area.*``)."""
    return tuple(o for o in observations if any(topic_matches(p, o.topic) for p in patterns))


def uniform(values: Iterable[str | None]) -> str | tuple[str, ...] | None:
    """One value where all devices agree, the sorted distinct values where they do not.

    Devices that did not report the field are left out; ``None`` where none reported it.
    """
    distinct = sorted({v for v in values if v is not None})
    if not distinct:
        return None
    return distinct[0] if len(distinct) == 1 else tuple(distinct)
