"""NVIDIA: parse ``nvidia-smi -q -x`` and ``nvidia-smi conf-compute`` output into records.

The XML carries a ``<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">`` line. The standard
library parser (expat) does not fetch external DTDs, so that line is harmless; documents that
declare entities of their own are refused outright, because nvidia-smi never writes any and
entity expansion is how a hostile file would attack an XML parser. The parser reads by element
name, never by position, and treats absent elements as unknown, because the layout grows with
each driver branch (``ecc_errors`` moved from ``single_bit``/``double_bit`` totals to
``sram_*``/``dram_*`` counters; ``gsp_firmware_version`` and ``cc_protected_memory_usage``
appeared in later branches).

The confidential-computing (CC) mode is not in the ``-q -x`` document: it comes from
``nvidia-smi conf-compute -q`` (``CC State : ON``) or ``-f`` (``CC status: ON``), which
:func:`parse_conf_compute` reads.

References
----------
NVIDIA, *nvidia-smi* manual page and ``nvsmi_device_v12.dtd`` shipped with the R535+ drivers.
NVIDIA, *Confidential Computing Deployment Guide* (``nvidia-smi conf-compute -f`` prints
``CC status: ON``; ``-q`` prints ``CC State``, ``Multi-GPU Mode``, ``CC GPUs Ready State``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from suanli.audit.observation import Observation, uniform
from suanli.errors import InputValueError

_NOT_AVAILABLE = {"", "N/A", "NA", "Unknown Error", "[N/A]"}
_MIB = re.compile(r"^\s*(\d+)\s*MiB\s*$")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY", re.IGNORECASE)


class EccCounts(BaseModel):
    """ECC error counts of one GPU over one period (volatile: since boot; aggregate: lifetime)."""

    model_config = ConfigDict(frozen=True)

    corrected: int | None = None
    uncorrected: int | None = None


class MigDevice(BaseModel):
    """One MIG device: a GPU instance and compute instance pair carved out of a GPU."""

    model_config = ConfigDict(frozen=True)

    index: int | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    memory_total_mib: int | None


class NvidiaGpu(BaseModel):
    """What ``nvidia-smi -q -x`` says about one GPU; ``None`` where it says nothing or N/A."""

    model_config = ConfigDict(frozen=True)

    position: int
    bus_id: str | None
    product_name: str | None
    product_architecture: str | None
    uuid: str | None
    serial: str | None
    vbios_version: str | None
    inforom_image_version: str | None
    inforom_oem_object: str | None
    inforom_ecc_object: str | None
    inforom_pwr_object: str | None
    gsp_firmware_version: str | None
    persistence_mode: str | None
    virtualization_mode: str | None
    ecc_mode_current: str | None
    ecc_mode_pending: str | None
    ecc_volatile: EccCounts
    ecc_aggregate: EccCounts
    mig_mode_current: str | None
    mig_mode_pending: str | None
    mig_devices: tuple[MigDevice, ...]
    memory_total_mib: int | None
    cc_protected_memory_total_mib: int | None


class ConfCompute(BaseModel):
    """The node-wide confidential-computing settings ``nvidia-smi conf-compute`` prints."""

    model_config = ConfigDict(frozen=True)

    source: str
    mode: str
    fields: dict[str, str]


class NvidiaReport(BaseModel):
    """A parsed ``nvidia-smi -q -x`` document, plus the CC settings where they were read."""

    model_config = ConfigDict(frozen=True)

    source: str
    driver_version: str | None
    cuda_version: str | None
    attached_gpus: int | None
    gpus: tuple[NvidiaGpu, ...]
    conf_compute: ConfCompute | None = None
    conf_compute_error: str | None = None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    value = " ".join(text.split())
    return None if value in _NOT_AVAILABLE else value


def _mode(element: ET.Element, path: str) -> str | None:
    # Modes keep "N/A": for a mode it means "not supported on this GPU", which is a finding.
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _int(text: str | None) -> int | None:
    value = _clean(text)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _mib(text: str | None) -> int | None:
    match = _MIB.match(text or "")
    return int(match.group(1)) if match else None


def _add(total: int | None, value: int | None) -> int | None:
    if value is None:
        return total
    return value if total is None else total + value


def _ecc_counts(section: ET.Element | None) -> EccCounts:
    if section is None:
        return EccCounts()
    corrected: int | None = None
    uncorrected: int | None = None
    for child in section:
        tag = child.tag
        if tag == "single_bit":  # pre-R510 layout: per-structure counts plus a total
            corrected = _add(corrected, _int(child.findtext("total")))
        elif tag == "double_bit":
            uncorrected = _add(uncorrected, _int(child.findtext("total")))
        elif "uncorrectable" in tag:  # sram_uncorrectable[_parity|_secded], dram_uncorrectable
            uncorrected = _add(uncorrected, _int(child.text))
        elif "correctable" in tag:
            corrected = _add(corrected, _int(child.text))
    return EccCounts(corrected=corrected, uncorrected=uncorrected)


def _mig_devices(gpu: ET.Element) -> tuple[MigDevice, ...]:
    container = gpu.find("mig_devices")
    if container is None:
        return ()
    return tuple(
        MigDevice(
            index=_int(device.findtext("index")),
            gpu_instance_id=_int(device.findtext("gpu_instance_id")),
            compute_instance_id=_int(device.findtext("compute_instance_id")),
            memory_total_mib=_mib(device.findtext("fb_memory_usage/total")),
        )
        for device in container.findall("mig_device")
    )


def _gpu(position: int, gpu: ET.Element) -> NvidiaGpu:
    def text(path: str) -> str | None:
        return _clean(gpu.findtext(path))

    return NvidiaGpu(
        position=position,
        bus_id=gpu.get("id") or text("pci/pci_bus_id"),
        product_name=text("product_name"),
        product_architecture=text("product_architecture"),
        uuid=text("uuid"),
        serial=text("serial"),
        vbios_version=text("vbios_version"),
        inforom_image_version=text("inforom_version/img_version"),
        inforom_oem_object=text("inforom_version/oem_object"),
        inforom_ecc_object=text("inforom_version/ecc_object"),
        inforom_pwr_object=text("inforom_version/pwr_object"),
        gsp_firmware_version=_mode(gpu, "gsp_firmware_version"),
        persistence_mode=_mode(gpu, "persistence_mode"),
        virtualization_mode=_mode(gpu, "gpu_virtualization_mode/virtualization_mode"),
        ecc_mode_current=_mode(gpu, "ecc_mode/current_ecc"),
        ecc_mode_pending=_mode(gpu, "ecc_mode/pending_ecc"),
        ecc_volatile=_ecc_counts(gpu.find("ecc_errors/volatile")),
        ecc_aggregate=_ecc_counts(gpu.find("ecc_errors/aggregate")),
        mig_mode_current=_mode(gpu, "mig_mode/current_mig"),
        mig_mode_pending=_mode(gpu, "mig_mode/pending_mig"),
        mig_devices=_mig_devices(gpu),
        memory_total_mib=_mib(gpu.findtext("fb_memory_usage/total")),
        cc_protected_memory_total_mib=_mib(gpu.findtext("cc_protected_memory_usage/total")),
    )


def parse_nvidia_smi_xml(text: str, source: str) -> NvidiaReport:
    """Parse the output of ``nvidia-smi -q -x``; ``source`` names the file or command.

    Raises
    ------
    InputValueError
        The text is not well-formed XML, declares entities, or is not an ``nvidia_smi_log``.
    """
    match = _ENTITY_DECLARATION.search(text)
    if match is not None:
        line = text.count("\n", 0, match.start()) + 1
        raise InputValueError(
            "XML entity declarations are refused (nvidia-smi never writes them)", file=source, line=line
        )
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line, _column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise InputValueError(f"not well-formed XML ({reason})", file=source, line=line) from None
    if root.tag != "nvidia_smi_log":
        raise InputValueError(
            f"not nvidia-smi -q -x output: root element is <{root.tag}>, expected <nvidia_smi_log>",
            file=source,
        )
    return NvidiaReport(
        source=source,
        driver_version=_clean(root.findtext("driver_version")),
        cuda_version=_clean(root.findtext("cuda_version")),
        attached_gpus=_int(root.findtext("attached_gpus")),
        gpus=tuple(_gpu(i, gpu) for i, gpu in enumerate(root.findall("gpu"))),
    )


def parse_conf_compute(text: str, source: str) -> ConfCompute:
    """Parse ``nvidia-smi conf-compute -q`` (``CC State : ON`` ...) or ``-f`` (``CC status: ON``).

    The mode is ``ON``, ``OFF``, ``DEVTOOLS`` (CC on with the DevTools relaxations) or
    ``PPCIE``: on a Hopper multi-GPU node in protected-PCIe mode ``CC State`` reads ``OFF`` and
    the ``Multi-GPU Mode`` line carries the setting.

    Raises
    ------
    InputValueError
        Neither a ``CC State`` nor a ``CC status`` line is present.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() and not key.strip().startswith("="):
            fields[" ".join(key.split())] = " ".join(value.split())
    lowered = {key.lower(): value for key, value in fields.items()}
    state = lowered.get("cc state") or lowered.get("cc status")
    if state is None:
        raise InputValueError(
            "not nvidia-smi conf-compute output: no 'CC State' or 'CC status' line", file=source
        )
    mode = state.upper()
    if mode == "ON" and lowered.get("devtools mode", "").upper() == "ON":
        mode = "DEVTOOLS"
    multi_gpu = lowered.get("multi-gpu mode", "")
    if mode == "OFF" and multi_gpu.lower() in {"protected pcie", "ppcie"}:
        mode = "PPCIE"
    return ConfCompute(source=source, mode=mode, fields=fields)


def _sum(values: Iterable[int | None]) -> int | None:
    total: int | None = None
    for value in values:
        total = _add(total, value)
    return total


def nvidia_observations(report: NvidiaReport) -> list[Observation]:
    """The observations a parsed ``nvidia-smi`` report supports, under :data:`TOPICS` names."""
    gpus = report.gpus
    where = f"nvidia-smi -q -x ({report.source})"
    each = f"{where}, {len(gpus)} GPU(s)"
    found: list[Observation] = [
        Observation(
            topic="accelerator.count",
            value=len(gpus),
            evidence=f"{where}: {len(gpus)} <gpu> element(s); attached_gpus={report.attached_gpus}",
        )
    ]
    per_gpu: list[tuple[str, str | tuple[str, ...] | None, str]] = [
        ("accelerator.models", uniform(g.product_name for g in gpus), "product_name"),
        ("driver.version", report.driver_version, "driver_version"),
        ("driver.cuda_version", report.cuda_version, "cuda_version"),
        ("firmware.vbios_version", uniform(g.vbios_version for g in gpus), "vbios_version"),
        ("firmware.inforom_version", uniform(g.inforom_image_version for g in gpus), "inforom img_version"),
        ("firmware.gsp_version", uniform(g.gsp_firmware_version for g in gpus), "gsp_firmware_version"),
        ("ecc.mode", uniform(g.ecc_mode_current for g in gpus), "ecc_mode/current_ecc"),
        ("mig.mode", uniform(g.mig_mode_current for g in gpus), "mig_mode/current_mig"),
        (
            "virtualization.mode",
            uniform(g.virtualization_mode for g in gpus),
            "gpu_virtualization_mode/virtualization_mode",
        ),
    ]
    for topic, value, element in per_gpu:
        if value is not None:
            found.append(Observation(topic=topic, value=value, evidence=f"{each}: {element}"))
    counts: list[tuple[str, int | None, str]] = [
        ("ecc.corrected_errors", _sum(g.ecc_aggregate.corrected for g in gpus), "aggregate corrected"),
        ("ecc.uncorrected_errors", _sum(g.ecc_aggregate.uncorrected for g in gpus), "aggregate uncorrected"),
    ]
    for topic, count, what in counts:
        if count is not None:
            found.append(Observation(topic=topic, value=count, evidence=f"{each}: ecc_errors, {what}"))
    if any(g.mig_mode_current is not None for g in gpus):
        mig_count = sum(len(g.mig_devices) for g in gpus)
        found.append(
            Observation(topic="mig.device_count", value=mig_count, evidence=f"{each}: mig_devices/mig_device")
        )
    protected = _sum(g.cc_protected_memory_total_mib for g in gpus)
    if protected is not None:
        found.append(
            Observation(
                topic="cc.protected_memory_mib",
                value=protected,
                evidence=f"{each}: cc_protected_memory_usage/total",
            )
        )
    found.extend(_cc_observations(report, protected))
    return found


def _cc_observations(report: NvidiaReport, protected_mib: int | None) -> list[Observation]:
    cc = report.conf_compute
    if cc is not None:
        shown = "; ".join(f"{k}: {v}" for k, v in cc.fields.items())
        found = [
            Observation(
                topic="cc.mode", value=cc.mode, evidence=f"nvidia-smi conf-compute ({cc.source}): {shown}"
            )
        ]
        ready = next((v for k, v in cc.fields.items() if k.lower() == "cc gpus ready state"), None)
        if ready is not None:
            found.append(
                Observation(
                    topic="cc.ready_state",
                    value=ready,
                    evidence=f"nvidia-smi conf-compute ({cc.source}): CC GPUs Ready State",
                )
            )
        return found
    # The XML holds no CC mode; only a protected region betrays CC being on.
    if protected_mib:
        return [
            Observation(
                topic="cc.mode",
                value="ON",
                evidence=(
                    f"inferred: {protected_mib} MiB of CC-protected memory in nvidia-smi -q -x "
                    f"({report.source}); GPUs partition protected memory only with CC on"
                ),
            )
        ]
    why = report.conf_compute_error or (
        "nvidia-smi -q -x does not report it; record `nvidia-smi conf-compute -q` and pass --nvidia-cc-output"
    )
    return [Observation(topic="cc.mode", value="unknown", evidence=why)]
