"""Node audit: nvidia-smi and npu-smi parsers, /proc scanning, observations and the CLI.

Fixtures and where they come from: tests/fixtures/audit/README.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from pydantic import ValidationError

import suanli.audit
from suanli.audit import (
    KNOWN_DAEMONS,
    TOOLS,
    TOPICS,
    NodeAudit,
    Observation,
    audit_node,
    audit_recorded,
    parse_conf_compute,
    parse_npu_smi,
    parse_nvidia_smi_xml,
    parse_proc_net_tcp,
    select,
)
from suanli.audit.tools import ToolRun, find_tool, run_tool
from suanli.errors import InputValueError

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
H200 = FIXTURES / "nvidia" / "h200-8gpu.xml"
H100_MIG = FIXTURES / "nvidia" / "h100-2gpu-mig.xml"
CC_ON = FIXTURES / "nvidia" / "conf-compute-q-on.txt"
CC_OFF = FIXTURES / "nvidia" / "conf-compute-f-off.txt"
NPU_INFO = FIXTURES / "ascend" / "npu-smi-info-910b3-8npu.txt"
NPU_BOARD = FIXTURES / "ascend" / "npu-smi-board-910b3-8npu.txt"
NPU_A3 = FIXTURES / "ascend" / "npu-smi-info-a3-2npu.txt"


def _values(audit: NodeAudit) -> dict[str, object]:
    return {o.topic: o.value for o in audit.observations}


# --- nvidia-smi -q -x ---------------------------------------------------------------------------


def test_nvidia_h200_node_mig_off_cc_off() -> None:
    report = parse_nvidia_smi_xml(H200.read_text(), str(H200))
    assert report.driver_version == "550.127.05"
    assert report.cuda_version == "12.4"
    assert report.attached_gpus == 8
    assert len(report.gpus) == 8
    gpu = report.gpus[0]
    assert gpu.product_name == "NVIDIA H200"
    assert gpu.bus_id == "00000000:18:00.0"
    assert gpu.vbios_version == "96.00.A5.00.01"
    assert gpu.inforom_image_version == "G525.0225.00.05"
    assert gpu.inforom_oem_object == "2.1"
    assert gpu.inforom_pwr_object is None  # "N/A" is unknown, not a version
    assert gpu.ecc_mode_current == "Enabled"
    assert gpu.ecc_aggregate.corrected == 0
    assert gpu.ecc_aggregate.uncorrected == 0
    assert gpu.mig_mode_current == "Disabled"
    assert gpu.mig_devices == ()
    assert gpu.memory_total_mib == 143771
    assert gpu.cc_protected_memory_total_mib == 0

    values = _values(audit_recorded(nvidia_smi_xml=H200))
    assert values["accelerator.count"] == 8
    assert values["accelerator.models"] == "NVIDIA H200"
    assert values["driver.version"] == "550.127.05"
    assert values["firmware.vbios_version"] == "96.00.A5.00.01"
    assert values["firmware.inforom_version"] == "G525.0225.00.05"
    assert values["firmware.gsp_version"] == "550.127.05"
    assert values["ecc.mode"] == "Enabled"
    assert values["ecc.uncorrected_errors"] == 0
    assert values["mig.mode"] == "Disabled"
    assert values["mig.device_count"] == 0
    assert values["cc.protected_memory_mib"] == 0
    # The -q -x document holds no CC mode; zero protected memory does not prove CC is off.
    assert values["cc.mode"] == "unknown"
    assert "telemetry.daemons" not in values  # recorded output says nothing about processes


def test_nvidia_mig_enabled() -> None:
    report = parse_nvidia_smi_xml(H100_MIG.read_text(), str(H100_MIG))
    assert [g.mig_mode_current for g in report.gpus] == ["Enabled", "Enabled"]
    assert [d.gpu_instance_id for d in report.gpus[0].mig_devices] == [1, 2]
    assert report.gpus[0].mig_devices[0].memory_total_mib == 40192
    assert [d.gpu_instance_id for d in report.gpus[1].mig_devices] == [7]
    # R535 counters (sram_uncorrectable, before the parity/SEC-DED split) are summed the same way.
    assert report.gpus[1].ecc_aggregate.corrected == 3

    values = _values(audit_recorded(nvidia_smi_xml=H100_MIG))
    assert values["accelerator.count"] == 2
    assert values["driver.version"] == "535.129.03"
    assert values["firmware.vbios_version"] == "96.00.99.00.01"
    assert values["mig.mode"] == "Enabled"
    assert values["mig.device_count"] == 3
    assert values["ecc.corrected_errors"] == 3
    assert values["ecc.mode"] == "Enabled"


def test_devices_that_disagree_show_every_value() -> None:
    text = H100_MIG.read_text().replace("96.00.99.00.01", "96.00.74.00.0D", 1)
    values = {
        o.topic: o.value for o in suanli.audit.nvidia.nvidia_observations(parse_nvidia_smi_xml(text, "x"))
    }
    assert values["firmware.vbios_version"] == ("96.00.74.00.0D", "96.00.99.00.01")


def test_pre_r510_ecc_layout() -> None:
    # Before R510 each period held single_bit/double_bit blocks with a <total>.
    text = """<?xml version="1.0" ?><nvidia_smi_log><driver_version>470.82.01</driver_version>
    <gpu id="00000000:07:00.0"><product_name>NVIDIA A100-SXM4-40GB</product_name>
    <ecc_errors><aggregate><single_bit><device_memory>4</device_memory><total>5</total></single_bit>
    <double_bit><device_memory>1</device_memory><total>1</total></double_bit></aggregate></ecc_errors>
    </gpu></nvidia_smi_log>"""
    gpu = parse_nvidia_smi_xml(text, "old.xml").gpus[0]
    assert (gpu.ecc_aggregate.corrected, gpu.ecc_aggregate.uncorrected) == (5, 1)
    assert gpu.vbios_version is None


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        (CC_ON.read_text(), "ON"),
        (CC_OFF.read_text(), "OFF"),
        ("CC State : ON\nDevTools Mode : ON\n", "DEVTOOLS"),
        # Hopper multi-GPU passthrough reports CC State OFF; the Multi-GPU Mode line carries it.
        ("CC State : OFF\nMulti-GPU Mode : Protected PCIe\nCC GPUs Ready State : Ready\n", "PPCIE"),
    ],
)
def test_conf_compute_modes(text: str, mode: str) -> None:
    assert parse_conf_compute(text, "cc.txt").mode == mode


def test_conf_compute_joins_the_xml() -> None:
    values = _values(audit_recorded(nvidia_smi_xml=H200, nvidia_cc_output=CC_ON))
    assert values["cc.mode"] == "ON"
    assert values["cc.ready_state"] == "Ready"
    with pytest.raises(InputValueError, match="CC State"):
        parse_conf_compute("Invalid combination of input arguments.\n", "cc.txt")


def test_protected_memory_implies_cc_on() -> None:
    text = H200.read_text().replace("<total>0 MiB</total>", "<total>1024 MiB</total>")
    report = parse_nvidia_smi_xml(text, "cc.xml")
    values = {o.topic: o.value for o in suanli.audit.nvidia.nvidia_observations(report)}
    assert values["cc.protected_memory_mib"] == 8 * 1024
    assert values["cc.mode"] == "ON"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '<?xml version="1.0" ?>\n<nvidia_smi_log>\n<gpu id="0">\n</nvidia_smi_log>\n',
            "not well-formed XML",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<x>&e;</x>\n',
            "entity declarations are refused",
        ),
        ('<?xml version="1.0"?>\n<cnmon_log/>\n', "root element is <cnmon_log>"),
    ],
)
def test_bad_xml_is_an_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputValueError, match=problem) as caught:
        parse_nvidia_smi_xml(text, "node.xml")
    assert caught.value.file == "node.xml"


# --- npu-smi ------------------------------------------------------------------------------------


def test_ascend_910b3_node() -> None:
    report = parse_npu_smi([(NPU_INFO.read_text(), "info"), (NPU_BOARD.read_text(), "board")])
    assert report.npu_smi_version == "23.0.7"
    assert report.npu_ids == tuple(range(8))
    assert len(report.chips) == 8  # the process table's "No running processes" rows are not chips
    chip = report.chips[3]
    assert (chip.npu_id, chip.chip_id, chip.name, chip.health) == (3, 0, "910B3", "OK")
    assert chip.bus_id == "0000:82:00.0"
    assert chip.power_w == pytest.approx(108.7)
    assert chip.temperature_c == 57
    assert (chip.hbm_used_mb, chip.hbm_total_mb) == (3334, 65536)
    assert len(report.boards) == 8
    assert report.boards[0].pcie_bus_info == "0000:C1:00.0"

    values = _values(audit_recorded(npu_smi_outputs=[NPU_INFO, NPU_BOARD]))
    assert values["accelerator.count"] == 8
    assert values["accelerator.models"] == "910B3"
    assert values["accelerator.health"] == "OK"
    assert values["driver.version"] == "23.0.7"
    assert values["firmware.npu_version"] == "7.1.0.11.220"
    assert values["firmware.compatibility"] == "OK"


def test_ascend_table_alone_takes_the_driver_from_its_header() -> None:
    values = _values(audit_recorded(npu_smi_outputs=[NPU_INFO]))
    assert values["driver.version"] == "23.0.7"
    assert "firmware.npu_version" not in values  # only `npu-smi info -t board` shows it


def test_ascend_a3_two_chips_per_npu() -> None:
    report = parse_npu_smi([(NPU_A3.read_text(), "a3")])
    assert report.npu_ids == (0, 1)
    assert [(c.npu_id, c.chip_id, c.phy_id) for c in report.chips] == [
        (0, 0, 0),
        (0, 1, 1),
        (1, 0, 2),
        (1, 1, 3),
    ]
    assert report.chips[1].power_w is None  # "-": the card's power is on its first chip
    assert (report.chips[3].hbm_used_mb, report.chips[3].hbm_total_mb) == (59807, 65536)
    values = _values(audit_recorded(npu_smi_outputs=[NPU_A3]))
    assert values["accelerator.count"] == 2
    assert values["accelerator.chip_count"] == 4
    assert values["accelerator.models"] == "Ascend910"
    assert values["accelerator.health"] == ("Alarm", "OK")


def test_ascend_chip_level_board_block() -> None:
    # `npu-smi info -t board -i 0 -c 0` adds the chip name; blocks may be concatenated.
    text = (
        "NPU ID : 0\nSoftware Version : 24.1.rc3\nFirmware Version : 7.5.0.3.220\nCompatibility : OK\n"
        "NPU ID : 0\nChip ID : 0\nChip Type : Ascend\nChip Name : 910B4\nChip Version : V1\n"
    )
    report = parse_npu_smi([(text, "board")])
    assert [(b.npu_id, b.chip_id) for b in report.boards] == [(0, None), (0, 0)]
    values = {o.topic: o.value for o in suanli.audit.ascend.ascend_observations(report)}
    assert values["accelerator.models"] == "910B4"
    assert values["firmware.npu_version"] == "7.5.0.3.220"


def test_not_npu_smi_output() -> None:
    with pytest.raises(InputValueError, match="not npu-smi output"):
        parse_npu_smi([("hello\n", "x.txt")])


# --- /proc ----------------------------------------------------------------------------------------

# proc(5) layout of a little-endian machine: *:5555 (nv-hostengine's default port), 127.0.0.1:3306,
# one established connection (state 01) that is not a listener; tcp6: [::]:9400, [::1]:22 and
# the IPv4-mapped [::ffff:127.0.0.1]:8080.
PROC_NET_TCP = (FIXTURES / "procfs" / "tcp.txt").read_text()
PROC_NET_TCP6 = (FIXTURES / "procfs" / "tcp6.txt").read_text()


def test_proc_net_tcp_listeners() -> None:
    listeners = parse_proc_net_tcp(PROC_NET_TCP, "tcp", byteorder="little")
    assert [(item.address, item.port, item.inode, item.uid) for item in listeners] == [
        ("0.0.0.0", 5555, 20571, 0),
        ("127.0.0.1", 3306, 31337, 997),
    ]
    six = parse_proc_net_tcp(PROC_NET_TCP6, "tcp6", byteorder="little")
    assert [(item.address, item.port) for item in six] == [
        ("::", 9400),
        ("::1", 22),
        ("::ffff:127.0.0.1", 8080),
    ]
    assert six[1].endpoint == "[::1]:22"
    # A big-endian kernel prints the network-order word as is.
    big = PROC_NET_TCP.replace("0100007F:0CEA 00000000", "7F000001:0CEA 00000000")
    assert parse_proc_net_tcp(big, "tcp", byteorder="big")[1].address == "127.0.0.1"


def _fake_proc(root: Path, processes: dict[int, tuple[str, list[int]]]) -> Path:
    proc = root / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(PROC_NET_TCP)
    (proc / "net" / "tcp6").write_text(PROC_NET_TCP6)
    for pid, (comm, inodes) in processes.items():
        fd = proc / str(pid) / "fd"
        fd.mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        for number, inode in enumerate(inodes, start=3):
            os.symlink(f"socket:[{inode}]", fd / str(number))
        os.symlink("/dev/null", fd / "0")
    return proc


def _no_tools(name: str) -> str | None:
    return None


def test_daemons_and_listeners_on_a_fake_node(tmp_path: Path) -> None:
    proc = _fake_proc(
        tmp_path,
        {
            100: ("nv-hostengine", [20571]),
            200: ("nvidia-persiste", []),  # comm keeps 15 characters of nvidia-persistenced
            300: ("dcgm-exporter", [52001]),
            400: ("sshd", [52002]),
        },
    )
    (tmp_path / "dev").mkdir()
    audit = audit_node(proc=proc, dev=tmp_path / "dev", finder=_no_tools)
    assert audit.processes is not None
    assert [d.name for d in audit.processes.daemons] == [
        "nvidia-persistenced",
        "nv-hostengine",
        "dcgm-exporter",
    ]
    values = _values(audit)
    assert values["telemetry.dcgm_running"] is True
    assert values["telemetry.nvidia_persistenced_running"] is True
    assert values["telemetry.ascend_dmp_running"] is False
    assert values["network.listeners"] == (
        "tcp6 [::1]:22 sshd[400]",
        "tcp 127.0.0.1:3306 owner not found",
        "tcp 0.0.0.0:5555 nv-hostengine[100]",
        "tcp6 [::ffff:127.0.0.1]:8080 owner not found",
        "tcp6 [::]:9400 dcgm-exporter[300]",
    )
    assert values["network.management_listeners"] == (
        "tcp 0.0.0.0:5555 nv-hostengine[100]",
        "tcp6 [::]:9400 dcgm-exporter[300]",
    )
    assert values["accelerator.count"] == 0
    assert audit.summary.startswith("no accelerator found")
    assert [o.topic for o in select(audit.observations, ["network.*"])] == [
        "network.listeners",
        "network.management_listeners",
    ]


# --- live runs with fake tools --------------------------------------------------------------------


class FakeTools:
    """A finder and runner that answer from fixture texts, recording every command."""

    def __init__(self, outputs: dict[tuple[str, ...], str | ToolRun], present: Sequence[str]) -> None:
        self.outputs = outputs
        self.present = present
        self.commands: list[tuple[str, ...]] = []

    def find(self, name: str) -> str | None:
        return name if name in self.present else None

    def run(self, argv: Sequence[str], timeout_s: float) -> ToolRun:
        command = tuple(argv)
        self.commands.append(command)
        answer = self.outputs.get(command)
        if isinstance(answer, ToolRun):
            return answer
        if answer is None:
            return ToolRun(
                command=command, returncode=6, stdout="", error=f"{' '.join(command)}: exited with status 6"
            )
        return ToolRun(command=command, returncode=0, stdout=answer, error=None)


def _live(tmp_path: Path, tools: FakeTools) -> NodeAudit:
    proc = _fake_proc(tmp_path, {})
    (tmp_path / "dev").mkdir(exist_ok=True)
    return audit_node(proc=proc, dev=tmp_path / "dev", finder=tools.find, runner=tools.run)


def test_live_nvidia_with_conf_compute_fallback(tmp_path: Path) -> None:
    tools = FakeTools(
        {
            ("nvidia-smi", "-q", "-x"): H200.read_text(),
            ("nvidia-smi", "conf-compute", "-f"): "CC status: ON\n",
        },
        present=["nvidia-smi"],
    )
    audit = _live(tmp_path, tools)
    assert ("nvidia-smi", "conf-compute", "-q") in tools.commands  # tried first, failed, then -f
    values = _values(audit)
    assert values["accelerator.count"] == 8
    assert values["cc.mode"] == "ON"
    assert audit.tools[0].status == "parsed"
    assert audit.summary == "8 NVIDIA GPU(s) (NVIDIA H200)"


def test_failing_tool_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    broken = ToolRun(
        command=("nvidia-smi", "-q", "-x"),
        returncode=9,
        stdout="",
        error="nvidia-smi -q -x: exited with status 9: NVIDIA-SMI has failed because it couldn't "
        "communicate with the NVIDIA driver.",
    )
    audit = _live(tmp_path, FakeTools({("nvidia-smi", "-q", "-x"): broken}, present=["nvidia-smi"]))
    assert audit.tools[0].status == "failed"
    assert any("couldn't communicate with the NVIDIA driver" in f for f in audit.findings)
    assert "accelerator.count" not in _values(audit)  # unknown, not zero
    assert "tool present but failed: nvidia-smi" in audit.summary


def test_live_npu_smi_reads_each_board(tmp_path: Path) -> None:
    blocks = NPU_BOARD.read_text().split("\n\n")
    outputs: dict[tuple[str, ...], str | ToolRun] = {("npu-smi", "info"): NPU_INFO.read_text()}
    for npu_id, block in enumerate(blocks):
        outputs["npu-smi", "info", "-t", "board", "-i", str(npu_id)] = block
    del outputs["npu-smi", "info", "-t", "board", "-i", "7"]  # one board query fails
    audit = _live(tmp_path, FakeTools(outputs, present=["npu-smi"]))
    values = _values(audit)
    assert values["accelerator.count"] == 8
    assert values["firmware.npu_version"] == "7.1.0.11.220"
    assert any(f.startswith("firmware of NPU 7 not read") for f in audit.findings)


def test_unparsed_tool_is_reported_honestly(tmp_path: Path) -> None:
    audit = _live(tmp_path, FakeTools({}, present=["cnmon"]))
    status = next(t for t in audit.tools if t.name == "cnmon")
    assert (status.status, status.detail) == ("not_implemented", "tool found, parser not implemented")
    values = _values(audit)
    assert values["node.unparsed_tools"] == ("cnmon",)
    assert "accelerator.count" not in values
    assert "cnmon (Cambricon)" in audit.summary


def test_device_nodes_without_a_tool(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "davinci0").touch()
    audit = _live(tmp_path, FakeTools({}, present=[]))
    assert "accelerator.count" not in _values(audit)
    assert any("davinci0" in f for f in audit.findings)


def test_run_tool_failures_are_one_line() -> None:
    assert run_tool([sys.executable, "-c", "print('ok')"]).stdout == "ok\n"
    failed = run_tool([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"])
    assert failed.error is not None
    assert failed.error.endswith("exited with status 3: boom")
    slow = run_tool([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.2)
    assert slow.error is not None
    assert "timed out after 0.2 s" in slow.error
    missing = run_tool(["/nonexistent/nvidia-smi", "-q", "-x"])
    assert missing.error is not None
    assert "could not run" in missing.error


# --- topics ---------------------------------------------------------------------------------------


def test_topics_are_closed_and_documented() -> None:
    with pytest.raises(ValidationError, match="unknown audit topic"):
        Observation(topic="firmware.vbios", value="x", evidence="typo")
    doc = suanli.audit.__doc__ or ""
    daemon_topics = {d.topic for d in KNOWN_DAEMONS}
    assert daemon_topics <= set(TOPICS)
    for topic in TOPICS:
        if topic in daemon_topics:
            key = topic.removeprefix("telemetry.").removesuffix("_running")
            assert f"``{key}``" in doc, topic
        else:
            assert topic in doc, topic


# --- command line ---------------------------------------------------------------------------------


@pytest.mark.skipif(
    any(find_tool(t.name) for t in TOOLS), reason="this machine has an accelerator tool installed"
)
def test_cli_on_this_machine(cli) -> None:
    result = cli("audit")
    assert result.code == 0, result.err
    assert "no accelerator found" in result.out
    assert "nvidia-smi, npu-smi, cnmon, xpu-smi, hy-smi" in result.out.replace("\n", " ")
    assert "Management daemons" in result.out


def test_cli_json_fields(cli) -> None:
    result = cli("audit", "--json", "--nvidia-smi-xml", H100_MIG, "--nvidia-cc-output", CC_OFF)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {
        "source",
        "summary",
        "tools",
        "nvidia",
        "ascend",
        "processes",
        "findings",
        "observations",
    }
    assert data["source"] == "recorded"
    assert set(data["tools"][0]) == {"name", "vendor", "status", "path", "detail"}
    assert all(set(o) == {"topic", "value", "evidence"} for o in data["observations"])
    values = {o["topic"]: o["value"] for o in data["observations"]}
    assert values["mig.mode"] == "Enabled"
    assert values["cc.mode"] == "OFF"
    assert data["nvidia"]["gpus"][0]["mig_devices"][1]["gpu_instance_id"] == 2


def test_cli_json_live(cli) -> None:
    result = cli("audit", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["source"] == "live"
    assert isinstance(data["processes"]["listeners"], list)


def test_cli_tables_for_recorded_output(cli) -> None:
    result = cli("audit", "--npu-smi-output", NPU_INFO, "--npu-smi-output", NPU_BOARD)
    assert result.code == 0, result.err
    assert "8 Ascend NPU(s) (910B3)" in result.out
    assert "7.1.0.11.220" in result.out
    result = cli("audit", "--nvidia-smi-xml", H200)
    assert result.code == 0, result.err
    assert "96.00.A5.00.01" in result.out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ('<?xml version="1.0" ?>\n<nvidia_smi_log>\n<gpu>\n', ["--nvidia-smi-xml"], "not well-formed XML"),
        ("no table here\n", ["--npu-smi-output"], "not npu-smi output"),
    ],
)
def test_cli_bad_file_exits_2_with_one_line(
    cli, tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(content)
    result = cli("audit", *args, bad)
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"error: {bad}")
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_cli_missing_file_and_lone_cc_option(cli, tmp_path: Path) -> None:
    result = cli("audit", "--nvidia-smi-xml", tmp_path / "absent.xml")
    assert result.code == 2
    assert "file not found" in result.err
    result = cli("audit", "--nvidia-cc-output", CC_ON)
    assert result.code == 2
    assert "--nvidia-cc-output: needs --nvidia-smi-xml" in result.err
