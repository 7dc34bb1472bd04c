"""``suanli audit``: accelerators, management daemons and listeners of this node or of recorded output."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.audit import NodeAudit, audit_node, audit_recorded
from suanli.audit.observation import ObservationValue
from suanli.cli.options import Json
from suanli.cli.output import console, print_json

# Cells hold text read from tools, files and /proc; escaping keeps a "[...]" in it from being
# taken for Rich markup.


def _shown(value: ObservationValue) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return escape("\n".join(value)) if value else "none"
    return "-" if value is None else escape(str(value))


def _dash(value: object) -> str:
    return "-" if value is None else escape(str(value))


def _print_nvidia(audit: NodeAudit) -> None:
    report = audit.nvidia
    if report is None or not report.gpus:
        return
    title = f"NVIDIA GPUs: driver {_dash(report.driver_version)}, CUDA {_dash(report.cuda_version)}"
    table = Table(title=title)
    for header in (
        "#",
        "bus id",
        "model",
        "VBIOS",
        "InfoROM",
        "GSP fw",
        "ECC",
        "ECC err (corr/uncorr)",
        "MIG",
    ):
        table.add_column(header)
    for gpu in report.gpus:
        errors = f"{_dash(gpu.ecc_aggregate.corrected)}/{_dash(gpu.ecc_aggregate.uncorrected)}"
        mig = _dash(gpu.mig_mode_current)
        if gpu.mig_devices:
            mig += f" ({len(gpu.mig_devices)} devices)"
        table.add_row(
            str(gpu.position),
            _dash(gpu.bus_id),
            _dash(gpu.product_name),
            _dash(gpu.vbios_version),
            _dash(gpu.inforom_image_version),
            _dash(gpu.gsp_firmware_version),
            _dash(gpu.ecc_mode_current),
            errors,
            mig,
        )
    console.print(table)


def _print_ascend(audit: NodeAudit) -> None:
    report = audit.ascend
    if report is None:
        return
    boards = {b.npu_id: b for b in report.boards if b.chip_id is None} or {b.npu_id: b for b in report.boards}
    table = Table(title=f"Ascend NPUs: npu-smi {_dash(report.npu_smi_version)}")
    for header in ("NPU", "chip", "name", "health", "bus id", "HBM MB (used/total)", "driver", "firmware"):
        table.add_column(header)
    for chip in report.chips:
        board = boards.get(chip.npu_id)
        hbm = "-" if chip.hbm_total_mb is None else f"{chip.hbm_used_mb}/{chip.hbm_total_mb}"
        table.add_row(
            str(chip.npu_id),
            _dash(chip.chip_id),
            _dash(chip.name),
            _dash(chip.health),
            _dash(chip.bus_id),
            hbm,
            _dash(board.software_version if board else report.version),
            _dash(board.firmware_version if board else None),
        )
    console.print(table)


def _print_processes(audit: NodeAudit) -> None:
    scan = audit.processes
    if scan is None:
        return
    if scan.daemons:
        table = Table(title="Management daemons running")
        for header in ("daemon", "vendor", "role", "pids"):
            table.add_column(header)
        for daemon in scan.daemons:
            table.add_row(_dash(daemon.name), daemon.vendor, daemon.role, ", ".join(map(str, daemon.pids)))
        console.print(table)
    else:
        console.print(
            f"Management daemons: none of the known ones running ({scan.processes_seen} processes visible)."
        )
    if not scan.listeners:
        console.print("TCP listeners: none.")
        return
    table = Table(title="TCP listeners (LISTEN)")
    for header in ("protocol", "address", "owner"):
        table.add_column(header)
    for item in scan.listeners:
        table.add_row(item.protocol, _dash(item.endpoint), _dash(", ".join(item.processes) or "not found"))
    console.print(table)


def _print(audit: NodeAudit) -> None:
    where = "this machine" if audit.source == "live" else "recorded output"
    console.print(f"Node audit ({where}): {audit.summary}", markup=False)
    found = [t for t in audit.tools if t.status != "not_found"]
    if found:
        table = Table(title="Accelerator tools")
        for header in ("tool", "vendor", "status", "path", "detail"):
            table.add_column(header)
        for tool in found:
            table.add_row(tool.name, tool.vendor, tool.status, _dash(tool.path), _dash(tool.detail))
        console.print(table)
    _print_nvidia(audit)
    _print_ascend(audit)
    _print_processes(audit)
    for finding in audit.findings:
        console.print(f"[yellow]finding:[/] {escape(finding)}", highlight=False)
    table = Table(title="Observations (topics a register item can cite)")
    table.add_column("topic", no_wrap=True)
    table.add_column("value")
    table.add_column("evidence", style="dim")
    for observation in audit.observations:
        table.add_row(observation.topic, _shown(observation.value), escape(observation.evidence))
    console.print(table)


def audit_command(
    nvidia_smi_xml: Annotated[
        Path | None,
        typer.Option(
            "--nvidia-smi-xml", help="Audit this recorded `nvidia-smi -q -x` output instead of this node."
        ),
    ] = None,
    nvidia_cc_output: Annotated[
        Path | None,
        typer.Option(
            "--nvidia-cc-output",
            help="Recorded `nvidia-smi conf-compute -q` (or -f) output, with --nvidia-smi-xml.",
        ),
    ] = None,
    npu_smi_output: Annotated[
        list[Path] | None,
        typer.Option(
            "--npu-smi-output",
            help="Recorded `npu-smi info` or `npu-smi info -t board -i N` output (repeatable).",
        ),
    ] = None,
    json: Json = False,
) -> None:
    """Audit the node's accelerators, management daemons and network listeners.

    Without options it inspects this machine: it runs nvidia-smi (-q -x, conf-compute -q) and
    npu-smi (info, info -t board -i N) where found, notes other vendors' tools it cannot parse,
    and reads /proc for management daemons and TCP listeners. With --nvidia-smi-xml or
    --npu-smi-output it audits output recorded on another machine instead. It never touches the
    network, and exits 0 whatever it finds; a failing tool is reported as a finding.

    --json prints: source (live or recorded), summary, tools (name, vendor, status, path,
    detail), nvidia, ascend (parsed reports), processes (daemons, listeners), findings and
    observations (topic, value, evidence; topics are listed in `suanli.audit`).
    """
    if nvidia_smi_xml or nvidia_cc_output or npu_smi_output:
        audit = audit_recorded(
            nvidia_smi_xml=nvidia_smi_xml,
            nvidia_cc_output=nvidia_cc_output,
            npu_smi_outputs=npu_smi_output or (),
        )
    else:
        audit = audit_node()
    if json:
        print_json(audit)
        return
    _print(audit)
