"""Management daemons and TCP listeners of the local node, read from ``/proc`` (Linux only).

Daemons are found by ``/proc/PID/comm``, the executable name the kernel keeps, cut to 15
characters (``TASK_COMM_LEN``), so ``nvidia-persistenced`` reads ``nvidia-persiste``. Listeners
are the rows of ``/proc/net/tcp`` and ``/proc/net/tcp6`` in state ``0A`` (``TCP_LISTEN``); each row
names a socket inode, and ``/proc/PID/fd/*`` links of the form ``socket:[INODE]`` tie it to a
process. Another user's ``fd`` directory is unreadable without root, so an unprivileged audit
reports such listeners without an owner and says how many processes it could not inspect.

Everything takes the ``/proc`` root as a parameter so that tests can hand it a fake tree; only
processes of the caller's PID namespace are visible (a container sees its own).

References
----------
Linux ``proc(5)``: ``/proc/net/tcp`` (addresses as the kernel's ``%08X`` of the network-order
word, ports in host order), ``/proc/PID/comm``, ``/proc/PID/fd``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

_TCP_LISTEN = 0x0A
_COMM_LEN = 15


@dataclass(frozen=True)
class KnownDaemon:
    """A management or telemetry daemon the audit looks for, and the topic that reports it."""

    name: str
    vendor: str
    role: str
    topic: str
    prefix: bool = False

    def matches(self, comm: str) -> bool:
        """Whether a ``/proc/PID/comm`` value is this daemon (comm is cut to 15 characters)."""
        return comm.startswith(self.name) if self.prefix else comm == self.name[:_COMM_LEN]


#: The daemons looked for. Default ports are noted because a listener on them is the usual
#: channel for remote management or metrics collection.
KNOWN_DAEMONS: tuple[KnownDaemon, ...] = (
    KnownDaemon(
        "nvidia-persistenced", "NVIDIA", "keeps the driver loaded", "telemetry.nvidia_persistenced_running"
    ),
    KnownDaemon(
        "nv-hostengine", "NVIDIA", "DCGM host engine (TCP 5555 by default)", "telemetry.dcgm_running"
    ),
    KnownDaemon(
        "dcgm-exporter",
        "NVIDIA",
        "DCGM metrics over HTTP (9400 by default)",
        "telemetry.dcgm_exporter_running",
    ),
    KnownDaemon("nv-fabricmanager", "NVIDIA", "NVSwitch fabric manager", "telemetry.fabricmanager_running"),
    KnownDaemon(
        "nvidia-gridd",
        "NVIDIA",
        "vGPU licence client (contacts a licence server)",
        "telemetry.nvidia_gridd_running",
    ),
    KnownDaemon("nvidia-imex", "NVIDIA", "multi-node NVLink memory export", "telemetry.nvidia_imex_running"),
    KnownDaemon("dmp_daemon", "Huawei", "Ascend device management daemon", "telemetry.ascend_dmp_running"),
    KnownDaemon("slogd", "Huawei", "Ascend driver log daemon", "telemetry.ascend_slogd_running"),
    KnownDaemon("npu-exporter", "Huawei", "NPU metrics for Prometheus", "telemetry.npu_exporter_running"),
    KnownDaemon(
        "hccn", "Huawei", "Ascend collective-network (HCCN) process", "telemetry.ascend_hccn_running", True
    ),
)


class RunningDaemon(BaseModel):
    """A known daemon found running, with its process ids."""

    model_config = ConfigDict(frozen=True)

    name: str
    vendor: str
    role: str
    pids: tuple[int, ...]


class Listener(BaseModel):
    """A TCP socket in LISTEN state and, where readable, the processes holding it."""

    model_config = ConfigDict(frozen=True)

    protocol: Literal["tcp", "tcp6"]
    address: str
    port: int
    inode: int
    uid: int
    processes: tuple[str, ...] = ()

    @property
    def endpoint(self) -> str:
        """``address:port``, with IPv6 addresses in brackets."""
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


class ProcessScan(BaseModel):
    """What a scan of ``/proc`` saw: known daemons, listeners, and how much it could not read."""

    model_config = ConfigDict(frozen=True)

    processes_seen: int
    fd_dirs_unreadable: int
    daemons: tuple[RunningDaemon, ...]
    listeners: tuple[Listener, ...]


def _address(hex_text: str, byteorder: Literal["little", "big"]) -> str:
    # The kernel prints each 32-bit word of the network-order address as a native integer.
    words = [int(hex_text[i : i + 8], 16).to_bytes(4, byteorder) for i in range(0, len(hex_text), 8)]
    raw = b"".join(words)
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def parse_proc_net_tcp(
    text: str,
    protocol: Literal["tcp", "tcp6"],
    byteorder: Literal["little", "big"] = sys.byteorder,
) -> tuple[Listener, ...]:
    """The LISTEN rows (state ``0A``) of a ``/proc/net/tcp`` or ``/proc/net/tcp6`` text.

    ``byteorder`` is that of the machine the text came from (addresses are printed natively).
    Rows that do not parse are skipped: the file is the kernel's, not user input.
    """
    listeners = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local_hex, port_hex = fields[1].split(":")
            if int(fields[3], 16) != _TCP_LISTEN:
                continue
            listeners.append(
                Listener(
                    protocol=protocol,
                    address=_address(local_hex, byteorder),
                    port=int(port_hex, 16),
                    uid=int(fields[7]),
                    inode=int(fields[9]),
                )
            )
        except ValueError:
            continue
    return tuple(listeners)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # the process exited, or the file is not ours to read
        return None


def _socket_owners(proc: Path, pids: dict[int, str]) -> tuple[dict[int, list[str]], int]:
    owners: dict[int, list[str]] = defaultdict(list)
    unreadable = 0
    for pid, comm in pids.items():
        fd_dir = proc / str(pid) / "fd"
        try:
            entries = os.listdir(fd_dir)
        except OSError:
            unreadable += 1
            continue
        for entry in entries:
            try:
                target = os.readlink(fd_dir / entry)
            except OSError:
                continue
            if target.startswith("socket:["):
                inode = int(target[len("socket:[") : -1])
                label = f"{comm}[{pid}]"
                if label not in owners[inode]:
                    owners[inode].append(label)
    return owners, unreadable


def scan_processes(proc: Path = Path("/proc")) -> ProcessScan:
    """Scan ``proc`` for known daemons and TCP listeners (see the module docstring)."""
    pids: dict[int, str] = {}
    try:
        names = os.listdir(proc)
    except OSError:
        names = []
    for name in names:
        if name.isdigit():
            comm = _read(proc / name / "comm")
            if comm is not None:
                pids[int(name)] = comm.strip()
    daemons = []
    for known in KNOWN_DAEMONS:
        matched = tuple(sorted(pid for pid, comm in pids.items() if known.matches(comm)))
        if matched:
            daemons.append(RunningDaemon(name=known.name, vendor=known.vendor, role=known.role, pids=matched))
    found: list[Listener] = []
    protocols: tuple[Literal["tcp", "tcp6"], ...] = ("tcp", "tcp6")
    for protocol in protocols:
        text = _read(proc / "net" / protocol)
        if text is not None:
            found.extend(parse_proc_net_tcp(text, protocol))
    owners, unreadable = _socket_owners(proc, pids) if found else ({}, 0)
    listeners = tuple(
        sorted(
            (item.model_copy(update={"processes": tuple(owners.get(item.inode, ()))}) for item in found),
            key=lambda item: (item.port, item.protocol, item.address),
        )
    )
    return ProcessScan(
        processes_seen=len(pids),
        fd_dirs_unreadable=unreadable,
        daemons=tuple(daemons),
        listeners=listeners,
    )
