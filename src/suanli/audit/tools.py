"""Accelerator management tools: which ones the audit looks for, finding them, running them safely.

A tool is run as a local subprocess with a fixed argument list (never through a shell), a
timeout and ``LC_ALL=C`` so its output does not change with the user's locale. Every way a run
can fail (missing, not executable, timed out, non-zero exit) comes back as a :class:`ToolRun`
with a one-line ``error``: a tool that is present but failing is a finding about the node, not
a crash of the audit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

#: Seconds a tool may run. nvidia-smi answers in about a second on a healthy 8-GPU node and
#: hangs when the driver is wedged; 15 s separates the two without stalling the audit for long.
TOOL_TIMEOUT_S = 15.0

#: Directories searched besides ``PATH``: vendors install their tools there, and ``sudo`` or a
#: service's environment often has a ``PATH`` without them.
EXTRA_TOOL_DIRS: tuple[str, ...] = (
    "/usr/local/bin",
    "/usr/bin",
    "/usr/local/sbin",
    "/opt/hyhal/bin",
    "/opt/rocm/bin",
)


@dataclass(frozen=True)
class ToolSpec:
    """An accelerator management tool and whether suanli can parse its output."""

    name: str
    vendor: str
    parser: bool


#: The tools looked for, in report order. Only nvidia-smi and npu-smi are parsed; the others are
#: reported as present so that a reader knows the node has accelerators suanli cannot inspect.
TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("nvidia-smi", "NVIDIA", parser=True),
    ToolSpec("npu-smi", "Huawei Ascend", parser=True),
    ToolSpec("cnmon", "Cambricon", parser=False),
    ToolSpec("xpu-smi", "Kunlunxin", parser=False),
    ToolSpec("hy-smi", "Hygon", parser=False),
    ToolSpec("mx-smi", "MetaX", parser=False),
    ToolSpec("mthreads-gmi", "Moore Threads", parser=False),
    ToolSpec("amd-smi", "AMD", parser=False),
    ToolSpec("rocm-smi", "AMD", parser=False),
)


class ToolRun(BaseModel):
    """The outcome of running a tool: its output, or a one-line reason it gave none."""

    model_config = ConfigDict(frozen=True)

    command: tuple[str, ...]
    returncode: int | None
    stdout: str
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the tool ran and exited with status 0."""
        return self.error is None

    @property
    def shown(self) -> str:
        """The command as a user would type it."""
        return " ".join(self.command)


#: How the audit finds a tool and runs one; tests substitute fakes.
Finder = Callable[[str], str | None]
Runner = Callable[[Sequence[str], float], ToolRun]


def find_tool(name: str) -> str | None:
    """The path of executable ``name`` on ``PATH`` or in :data:`EXTRA_TOOL_DIRS`, else ``None``."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *EXTRA_TOOL_DIRS])
    return shutil.which(name, path=search)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def run_tool(argv: Sequence[str], timeout_s: float = TOOL_TIMEOUT_S) -> ToolRun:
    """Run ``argv`` (no shell) with a timeout; failures become a :class:`ToolRun` with ``error``."""
    command = tuple(argv)
    shown = " ".join(command)
    try:
        # Fixed argument lists of local vendor tools, never a shell: nothing to inject into.
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        return ToolRun(
            command=command, returncode=None, stdout="", error=f"{shown}: timed out after {timeout_s:g} s"
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return ToolRun(
            command=command, returncode=None, stdout="", error=f"{shown}: could not run ({reason})"
        )
    if done.returncode != 0:
        said = _first_line(done.stderr) or _first_line(done.stdout) or "no output"
        return ToolRun(
            command=command,
            returncode=done.returncode,
            stdout=done.stdout,
            error=f"{shown}: exited with status {done.returncode}: {said}",
        )
    return ToolRun(command=command, returncode=0, stdout=done.stdout, error=None)
