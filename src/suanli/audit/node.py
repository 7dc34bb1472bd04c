"""Audit a node: run the vendor tools found here (or read their recorded output) and scan ``/proc``.

:func:`audit_node` inspects the machine it runs on; :func:`audit_recorded` reads outputs recorded
on another machine (``nvidia-smi -q -x > node.xml`` and so on), and then reports no daemons or
listeners, since ``/proc`` here says nothing about that machine. Both return a :class:`NodeAudit`
whose ``observations`` are the stable, topic-named facts described in :mod:`suanli.audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from suanli.audit.ascend import AscendReport, ascend_observations, parse_npu_smi, parse_npu_smi_info
from suanli.audit.nvidia import (
    ConfCompute,
    NvidiaReport,
    nvidia_observations,
    parse_conf_compute,
    parse_nvidia_smi_xml,
)
from suanli.audit.observation import Observation
from suanli.audit.procfs import KNOWN_DAEMONS, ProcessScan, scan_processes
from suanli.audit.tools import EXTRA_TOOL_DIRS, TOOL_TIMEOUT_S, TOOLS, Finder, Runner, find_tool, run_tool
from suanli.errors import InputError, InputFileError, InputValueError

#: Recorded outputs larger than this are refused: ``nvidia-smi -q -x`` of a 16-GPU node is < 2 MB.
MAX_FILE_BYTES = 32 * 1024 * 1024

#: Device nodes that show a vendor's driver is loaded even where its tool is missing.
_DEVICE_NODES: dict[str, str] = {"nvidia-smi": "nvidia[0-9]*", "npu-smi": "davinci[0-9]*"}

ToolState = Literal["not_found", "parsed", "failed", "not_implemented", "recorded"]


class ToolStatus(BaseModel):
    """What became of one accelerator tool: not found, parsed, failed, or present without a parser."""

    model_config = ConfigDict(frozen=True)

    name: str
    vendor: str
    status: ToolState
    path: str | None
    detail: str


class NodeAudit(BaseModel):
    """The result of a node audit; ``observations`` is what register items are checked against."""

    model_config = ConfigDict(frozen=True)

    source: Literal["live", "recorded"]
    summary: str
    tools: tuple[ToolStatus, ...]
    nvidia: NvidiaReport | None
    ascend: AscendReport | None
    processes: ProcessScan | None
    findings: tuple[str, ...]
    observations: tuple[Observation, ...]


def read_text_file(path: str | Path) -> str:
    """The text of a recorded tool output, with one-line errors for every way reading can fail."""
    file = Path(path)
    if not file.exists():
        raise InputFileError("file not found", file=file)
    if not file.is_file():
        raise InputFileError("not a regular file", file=file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InputFileError(f"file larger than {MAX_FILE_BYTES} bytes", file=file)
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError("not UTF-8 text", file=file) from exc
    except OSError as exc:
        raise InputFileError(f"cannot read file ({exc.strerror})", file=file) from exc


def _live_nvidia(path: str, runner: Runner, timeout_s: float) -> tuple[NvidiaReport | None, str | None]:
    run = runner([path, "-q", "-x"], timeout_s)
    if not run.ok:
        return None, run.error
    try:
        report = parse_nvidia_smi_xml(run.stdout, run.shown)
    except InputError as exc:
        return None, f"output not understood: {exc}"
    # `-q` lists every CC field; drivers before R535 know neither form and fail on both.
    errors: list[str] = []
    conf_compute: ConfCompute | None = None
    for flag in ("-q", "-f"):
        cc_run = runner([path, "conf-compute", flag], timeout_s)
        if cc_run.ok:
            try:
                conf_compute = parse_conf_compute(cc_run.stdout, cc_run.shown)
                break
            except InputError as exc:
                errors.append(str(exc))
        else:
            errors.append(str(cc_run.error))
    update = {"conf_compute": conf_compute, "conf_compute_error": None if conf_compute else "; ".join(errors)}
    return report.model_copy(update=update), None


def _live_ascend(
    path: str, runner: Runner, timeout_s: float
) -> tuple[AscendReport | None, str | None, list[str]]:
    run = runner([path, "info"], timeout_s)
    if not run.ok:
        return None, run.error, []
    _tool, _version, chips = parse_npu_smi_info(run.stdout)
    if not chips:
        return None, f"{run.shown}: output not understood (no NPU rows in its table)", []
    texts = [(run.stdout, run.shown)]
    findings = []
    for npu_id in sorted({c.npu_id for c in chips}):
        board = runner([path, "info", "-t", "board", "-i", str(npu_id)], timeout_s)
        if board.ok:
            texts.append((board.stdout, board.shown))
        else:
            findings.append(f"firmware of NPU {npu_id} not read: {board.error}")
    try:
        return parse_npu_smi(texts), None, findings
    except InputError as exc:  # a board output in an unknown layout; keep the table
        return parse_npu_smi(texts[:1]), None, [*findings, f"board output not understood: {exc}"]


def audit_node(
    *,
    proc: Path = Path("/proc"),
    dev: Path = Path("/dev"),
    finder: Finder | None = None,
    runner: Runner | None = None,
    timeout_s: float = TOOL_TIMEOUT_S,
) -> NodeAudit:
    """Audit the machine this runs on: vendor tools, management daemons, TCP listeners.

    ``finder`` and ``runner`` default to :func:`~suanli.audit.tools.find_tool` and
    :func:`~suanli.audit.tools.run_tool`; tests pass fakes, and ``proc``/``dev`` fake trees.
    """
    finder = finder or find_tool
    runner = runner or run_tool
    tools: list[ToolStatus] = []
    findings: list[str] = []
    nvidia: NvidiaReport | None = None
    ascend: AscendReport | None = None
    device_nodes: list[str] = []
    for spec in TOOLS:
        path = finder(spec.name)
        if path is None:
            pattern = _DEVICE_NODES.get(spec.name)
            nodes = sorted(p.name for p in dev.glob(pattern)) if pattern else []
            if nodes:
                device_nodes.extend(nodes)
                findings.append(f"{spec.name} not found, but device nodes {', '.join(nodes)} exist in {dev}")
            tools.append(
                ToolStatus(name=spec.name, vendor=spec.vendor, status="not_found", path=None, detail="")
            )
            continue
        error: str | None = None
        if not spec.parser:
            state: ToolState = "not_implemented"
            detail = "tool found, parser not implemented"
        elif spec.name == "nvidia-smi":
            nvidia, error = _live_nvidia(path, runner, timeout_s)
            state, detail = ("parsed", f"{len(nvidia.gpus)} GPU(s)") if nvidia else ("failed", str(error))
        else:
            ascend, error, more = _live_ascend(path, runner, timeout_s)
            findings.extend(more)
            state, detail = ("parsed", f"{len(ascend.npu_ids)} NPU(s)") if ascend else ("failed", str(error))
        if error:
            findings.append(f"{spec.name} is present but failed: {error}")
        tools.append(ToolStatus(name=spec.name, vendor=spec.vendor, status=state, path=path, detail=detail))
    if nvidia is not None and nvidia.conf_compute is None and nvidia.conf_compute_error:
        findings.append(f"CC mode not read: {nvidia.conf_compute_error}")
    scan = scan_processes(proc)
    if scan.fd_dirs_unreadable:
        findings.append(
            f"{scan.fd_dirs_unreadable} of {scan.processes_seen} processes' open files are not readable "
            "(not root): their listeners are reported without an owner"
        )
    return _assemble(
        "live",
        tools=tools,
        nvidia=nvidia,
        ascend=ascend,
        scan=scan,
        findings=findings,
        device_nodes=tuple(device_nodes),
    )


def audit_recorded(
    *,
    nvidia_smi_xml: Path | None = None,
    nvidia_cc_output: Path | None = None,
    npu_smi_outputs: Sequence[Path] = (),
) -> NodeAudit:
    """Audit outputs recorded on another machine; bad files raise :class:`~suanli.errors.InputError`."""
    tools: list[ToolStatus] = []
    nvidia: NvidiaReport | None = None
    ascend: AscendReport | None = None
    if nvidia_cc_output is not None and nvidia_smi_xml is None:
        raise InputValueError("needs --nvidia-smi-xml as well", field="--nvidia-cc-output")
    if nvidia_smi_xml is not None:
        nvidia = parse_nvidia_smi_xml(read_text_file(nvidia_smi_xml), str(nvidia_smi_xml))
        if nvidia_cc_output is not None:
            cc = parse_conf_compute(read_text_file(nvidia_cc_output), str(nvidia_cc_output))
            nvidia = nvidia.model_copy(update={"conf_compute": cc})
        shown = ", ".join(str(p) for p in (nvidia_smi_xml, nvidia_cc_output) if p is not None)
        tools.append(
            ToolStatus(
                name="nvidia-smi",
                vendor="NVIDIA",
                status="recorded",
                path=shown,
                detail=f"{len(nvidia.gpus)} GPU(s)",
            )
        )
    if npu_smi_outputs:
        ascend = parse_npu_smi([(read_text_file(p), str(p)) for p in npu_smi_outputs])
        tools.append(
            ToolStatus(
                name="npu-smi",
                vendor="Huawei Ascend",
                status="recorded",
                path=", ".join(str(p) for p in npu_smi_outputs),
                detail=f"{len(ascend.npu_ids)} NPU(s)",
            )
        )
    findings = [
        "daemons and listeners not observed: recorded output says nothing about that machine's processes"
    ]
    return _assemble(
        "recorded", tools=tools, nvidia=nvidia, ascend=ascend, scan=None, findings=findings, device_nodes=()
    )


def _summary(
    source: str,
    tools: Sequence[ToolStatus],
    nvidia: NvidiaReport | None,
    ascend: AscendReport | None,
    device_nodes: Sequence[str],
) -> str:
    parts = []
    if nvidia is not None:
        models = sorted({g.product_name for g in nvidia.gpus if g.product_name})
        parts.append(f"{len(nvidia.gpus)} NVIDIA GPU(s) ({', '.join(models) or 'model not reported'})")
    if ascend is not None:
        models = sorted({c.name for c in ascend.chips} or {b.chip_name for b in ascend.boards if b.chip_name})
        parts.append(f"{len(ascend.npu_ids)} Ascend NPU(s) ({', '.join(models) or 'model not reported'})")
    unparsed = [f"{t.name} ({t.vendor})" for t in tools if t.status == "not_implemented"]
    failed = [t.name for t in tools if t.status == "failed"]
    if unparsed:
        parts.append(f"tool found, parser not implemented: {', '.join(unparsed)}")
    if failed:
        parts.append(f"tool present but failed: {', '.join(failed)}")
    if device_nodes:
        parts.append(f"no accelerator tool found, but device nodes exist ({', '.join(device_nodes)})")
    if parts:
        return "; ".join(parts)
    if source == "recorded":
        return "no recorded output given"
    looked = ", ".join(spec.name for spec in TOOLS)
    return f"no accelerator found (looked for {looked} on PATH and in {', '.join(EXTRA_TOOL_DIRS)})"


def _assemble(
    source: Literal["live", "recorded"],
    *,
    tools: list[ToolStatus],
    nvidia: NvidiaReport | None,
    ascend: AscendReport | None,
    scan: ProcessScan | None,
    findings: list[str],
    device_nodes: tuple[str, ...],
) -> NodeAudit:
    observations = _tool_observations(source, tools, nvidia, ascend, device_nodes)
    if nvidia is not None:
        observations.extend(nvidia_observations(nvidia))
    if ascend is not None:
        observations.extend(ascend_observations(ascend))
    if scan is not None:
        observations.extend(_process_observations(scan))
    return NodeAudit(
        source=source,
        summary=_summary(source, tools, nvidia, ascend, device_nodes),
        tools=tuple(tools),
        nvidia=nvidia,
        ascend=ascend,
        processes=scan,
        findings=tuple(findings),
        observations=tuple(observations),
    )


def _tool_observations(
    source: str,
    tools: Sequence[ToolStatus],
    nvidia: NvidiaReport | None,
    ascend: AscendReport | None,
    device_nodes: Sequence[str],
) -> list[Observation]:
    present = tuple(t.name for t in tools if t.status != "not_found")
    looked = ", ".join(spec.name for spec in TOOLS) if source == "live" else "recorded files only"
    observations = [
        Observation(topic="node.accelerator_tools", value=present, evidence=f"looked for: {looked}")
    ]
    unparsed = tuple(t.name for t in tools if t.status == "not_implemented")
    if unparsed:
        observations.append(
            Observation(
                topic="node.unparsed_tools", value=unparsed, evidence="tool found, parser not implemented"
            )
        )
    # Zero is claimed only when nothing hints at an accelerator: no tool of any kind, and no
    # vendor device nodes; an unparsed or failing tool leaves the count unknown, so it is omitted.
    if source == "live" and nvidia is None and ascend is None and not present and not device_nodes:
        observations.append(
            Observation(
                topic="accelerator.count",
                value=0,
                evidence=(
                    f"none of {', '.join(s.name for s in TOOLS)} found; "
                    "no /dev/nvidia* or /dev/davinci* device nodes"
                ),
            )
        )
    return observations


def _process_observations(scan: ProcessScan) -> list[Observation]:
    running = {d.name: d for d in scan.daemons}
    where = f"/proc/*/comm of {scan.processes_seen} visible processes"
    observations = [Observation(topic="telemetry.daemons", value=tuple(sorted(running)), evidence=where)]
    for known in KNOWN_DAEMONS:
        daemon = running.get(known.name)
        shown = f"pids {', '.join(map(str, daemon.pids))}" if daemon else "not running"
        observations.append(
            Observation(
                topic=known.topic, value=daemon is not None, evidence=f"{where}: {known.name} {shown}"
            )
        )
    daemon_pids = {pid for d in scan.daemons for pid in d.pids}

    def owner(labels: tuple[str, ...]) -> str:
        return ", ".join(labels) if labels else "owner not found"

    listeners = tuple(f"{item.protocol} {item.endpoint} {owner(item.processes)}" for item in scan.listeners)
    unreadable = f"; {scan.fd_dirs_unreadable} processes' fds unreadable" if scan.fd_dirs_unreadable else ""
    tcp = f"/proc/net/tcp and /proc/net/tcp6, state 0A (LISTEN); owners via /proc/*/fd{unreadable}"
    observations.append(Observation(topic="network.listeners", value=listeners, evidence=tcp))
    managed = tuple(
        f"{item.protocol} {item.endpoint} {owner(item.processes)}"
        for item in scan.listeners
        if any(int(label.rsplit("[", 1)[1].rstrip("]")) in daemon_pids for label in item.processes)
    )
    observations.append(
        Observation(
            topic="network.management_listeners",
            value=managed,
            evidence=f"{tcp}; held by a process of {', '.join(k.name for k in KNOWN_DAEMONS)}",
        )
    )
    return observations
