"""Huawei Ascend: parse ``npu-smi info`` tables and ``npu-smi info -t board -i N`` key/value lines.

``npu-smi info`` prints a box-drawn table, two rows per chip between ``+===...`` rules::

    | NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
    | Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
    +===========================+===============+====================================================+
    | 0     910B3               | OK            | 102.8       55                0    / 0             |
    | 0                         | 0000:C1:00.0  | 0           0    / 0          3338 / 65536         |

The first row of a pair gives the NPU id, the chip name and its health; the second the chip id
(followed on some products by a ``Device`` or ``Phy-ID`` column), the bus id and the usage
figures. Atlas A3 cards list two chips under one NPU id. Column widths change between releases
(23.0 to 26.0) and between products (310P, 910B, A3), so the parser splits on ``|`` and reads
``used / total`` pairs by pattern, never by character position. A second table (``Process id``)
follows and is skipped.

``npu-smi info -t board -i N`` prints ``Key : value`` lines starting with ``NPU ID``; several
such outputs may be concatenated in one file, each ``NPU ID`` line starting a new block.

References
----------
Huawei, *npu-smi* command reference (Atlas A2/A3 training products), ``info`` and
``info -t board`` queries; examples in the Ascend MindCluster documentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from suanli.audit.observation import Observation, uniform
from suanli.errors import InputValueError

_HEADER = re.compile(r"npu-smi\s+(\S+)(?:\s+Version:\s*(\S+))?")
_PAIR = re.compile(r"(\d+)\s*/\s*(\d+)")
_RULE = re.compile(r"^\s*\+[=+-]+\+?\s*$")
_NOT_AVAILABLE = {"", "NA", "N/A", "-"}


class AscendChip(BaseModel):
    """One chip row pair of the ``npu-smi info`` table; ``None`` where the table says NA or -."""

    model_config = ConfigDict(frozen=True)

    npu_id: int
    chip_id: int | None
    phy_id: int | None
    name: str
    health: str
    power_w: float | None
    temperature_c: float | None
    bus_id: str | None
    aicore_pct: float | None
    memory_used_mb: int | None
    memory_total_mb: int | None
    hbm_used_mb: int | None
    hbm_total_mb: int | None


class AscendBoard(BaseModel):
    """One ``npu-smi info -t board -i N [-c C]`` block; ``fields`` keeps every line as printed."""

    model_config = ConfigDict(frozen=True)

    npu_id: int
    chip_id: int | None
    product_name: str | None
    software_version: str | None
    firmware_version: str | None
    compatibility: str | None
    chip_name: str | None
    pcie_bus_info: str | None
    fields: dict[str, str]


class AscendReport(BaseModel):
    """What one or more ``npu-smi`` outputs say about the node's NPUs."""

    model_config = ConfigDict(frozen=True)

    sources: tuple[str, ...]
    npu_smi_version: str | None
    version: str | None
    chips: tuple[AscendChip, ...]
    boards: tuple[AscendBoard, ...]

    @property
    def npu_ids(self) -> tuple[int, ...]:
        """Distinct NPU (card) ids, from the table or, failing that, from board blocks."""
        ids = {c.npu_id for c in self.chips} or {b.npu_id for b in self.boards}
        return tuple(sorted(ids))


def _value(text: str) -> str | None:
    value = " ".join(text.split())
    return None if value in _NOT_AVAILABLE else value


def _number(text: str | None) -> float | None:
    if text is None or _value(text) is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    number = _number(text)
    return None if number is None or number != int(number) else int(number)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _figures(cell: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Loose numbers (power, temperature, AICore) and ``used / total`` pairs of a usage cell."""
    pairs = [(int(a), int(b)) for a, b in _PAIR.findall(cell)]
    return _PAIR.sub(" ", cell).split(), pairs


def _chip(first: list[str], second: list[str]) -> AscendChip | None:
    head = first[0].split(maxsplit=1)
    npu_id = _int(head[0]) if head else None
    if npu_id is None or len(head) < 2 or len(first) < 3 or len(second) < 3:
        return None
    loose, _hugepages = _figures(first[2])
    ids = second[0].split()
    usage_loose, usage_pairs = _figures(second[2])
    memory = usage_pairs[0] if usage_pairs else (None, None)
    # Products with HBM print a second pair; 310-class cards have only the DDR one.
    hbm = usage_pairs[1] if len(usage_pairs) > 1 else (None, None)
    return AscendChip(
        npu_id=npu_id,
        chip_id=_int(ids[0]) if ids else None,
        phy_id=_int(ids[1]) if len(ids) > 1 else None,
        name=head[1].strip(),
        health=first[1],
        power_w=_number(loose[0]) if loose else None,
        temperature_c=_number(loose[1]) if len(loose) > 1 else None,
        bus_id=_value(second[1]),
        aicore_pct=_number(usage_loose[0]) if usage_loose else None,
        memory_used_mb=memory[0],
        memory_total_mb=memory[1],
        hbm_used_mb=hbm[0],
        hbm_total_mb=hbm[1],
    )


def _table_rows(text: str) -> Iterator[list[list[str]]]:
    """Groups of data rows between rules of the device table (header rows dropped)."""
    in_devices = False
    group: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _RULE.match(stripped):
            if group:
                yield group
            group = []
            continue
        if not stripped.startswith("|"):
            continue
        cells = _cells(stripped)
        first = cells[0].split()
        if first[:2] == ["NPU", "Name"]:
            in_devices = True
            continue
        if "Process id" in stripped or (first[:2] == ["NPU", "Chip"]):
            in_devices = False  # the process table follows; its rows are not chips
            group = []
            continue
        if in_devices and first and first[0] != "Chip":
            group.append(cells)
    if group:
        yield group


def parse_npu_smi_info(text: str) -> tuple[str | None, str | None, tuple[AscendChip, ...]]:
    """``(npu-smi version, Version field, chips)`` from ``npu-smi info`` output (no chips if absent)."""
    header = _HEADER.search(text)
    chips: list[AscendChip] = []
    for group in _table_rows(text):
        for first, second in zip(group[::2], group[1::2], strict=False):
            chip = _chip(first, second)
            if chip is not None:
                chips.append(chip)
    if header is None:
        return None, None, tuple(chips)
    return header.group(1), header.group(2), tuple(chips)


def parse_npu_smi_board(text: str) -> tuple[AscendBoard, ...]:
    """Every ``npu-smi info -t board`` block in ``text`` (each starts at an ``NPU ID`` line)."""
    blocks: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            continue  # table rows hold colons in bus ids; they are not key/value lines
        key, colon, value = line.partition(":")
        key = " ".join(key.split())
        if not colon or not key:
            continue
        if key == "NPU ID":
            blocks.append({})
        if blocks:
            blocks[-1][key] = " ".join(value.split())
    boards = []
    for fields in blocks:
        npu_id = _int(fields.get("NPU ID"))
        if npu_id is None:
            continue

        def get(key: str, fields: dict[str, str] = fields) -> str | None:
            return _value(fields.get(key, ""))

        boards.append(
            AscendBoard(
                npu_id=npu_id,
                chip_id=_int(fields.get("Chip ID")),
                product_name=get("Product Name"),
                software_version=get("Software Version"),
                firmware_version=get("Firmware Version"),
                compatibility=get("Compatibility"),
                chip_name=get("Chip Name"),
                pcie_bus_info=get("PCIe Bus Info"),
                fields=fields,
            )
        )
    return tuple(boards)


def parse_npu_smi(texts: list[tuple[str, str]]) -> AscendReport:
    """Merge ``(text, source)`` outputs of ``npu-smi info`` and ``npu-smi info -t board``.

    Raises
    ------
    InputValueError
        A text holds neither table rows nor board blocks.
    """
    version: str | None = None
    tool_version: str | None = None
    chips: list[AscendChip] = []
    boards: list[AscendBoard] = []
    for text, source in texts:
        found_tool, found_version, found_chips = parse_npu_smi_info(text)
        found_boards = parse_npu_smi_board(text)
        if not found_chips and not found_boards:
            raise InputValueError(
                "not npu-smi output: found neither `npu-smi info` table rows (| NPU Name | Health |...) "
                "nor `npu-smi info -t board` lines (NPU ID : N)",
                file=source,
            )
        tool_version = tool_version or found_tool
        version = version or found_version
        chips.extend(found_chips)
        boards.extend(found_boards)
    return AscendReport(
        sources=tuple(source for _text, source in texts),
        npu_smi_version=tool_version,
        version=version,
        chips=tuple(chips),
        boards=tuple(boards),
    )


def ascend_observations(report: AscendReport) -> list[Observation]:
    """The observations a parsed ``npu-smi`` report supports, under :data:`TOPICS` names."""
    where = f"npu-smi ({', '.join(report.sources)})"
    chips, boards = report.chips, report.boards
    found = [
        Observation(
            topic="accelerator.count",
            value=len(report.npu_ids),
            evidence=f"{where}: distinct NPU ids {list(report.npu_ids)}",
        )
    ]
    if chips:
        found.append(
            Observation(
                topic="accelerator.chip_count",
                value=len(chips),
                evidence=f"{where}: chip row pairs of the npu-smi info table",
            )
        )
    models = uniform(c.name for c in chips) or uniform(b.chip_name for b in boards)
    candidates: list[tuple[str, str | tuple[str, ...] | None, str]] = [
        ("accelerator.models", models, "Name column (or board Chip Name)"),
        ("accelerator.health", uniform(c.health for c in chips), "Health column"),
        ("firmware.npu_version", uniform(b.firmware_version for b in boards), "board Firmware Version"),
        ("firmware.compatibility", uniform(b.compatibility for b in boards), "board Compatibility"),
    ]
    driver = uniform(b.software_version for b in boards)
    if driver is not None:
        candidates.append(("driver.version", driver, "board Software Version"))
    elif report.version is not None:
        candidates.append(("driver.version", report.version, "npu-smi info header 'Version:'"))
    for topic, value, what in candidates:
        if value is not None:
            found.append(Observation(topic=topic, value=value, evidence=f"{where}: {what}"))
    return found
