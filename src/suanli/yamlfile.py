"""Read YAML into plain data, keeping line numbers so that errors can point at them.

Both the package's own data and user files pass through here, so a bad value in either is
reported as ``FILE:LINE: FIELD: problem``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from suanli.errors import InputFileError, InputSyntaxError, InputValueError

ModelT = TypeVar("ModelT", bound=BaseModel)

# libyaml's parser where PyYAML was built with it (about 10x faster), the pure one otherwise.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Files larger than this are refused: a catalog or scenario is a few kilobytes.
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document: its data, its node tree (for line numbers) and its name."""

    name: str
    data: object
    root: yaml.Node | None

    def has(self, path: Sequence[int | str]) -> bool:
        """Whether the document itself spells out the value at ``path``."""
        node = self.root
        for key in path:
            node = _child(node, key)
            if node is None:
                return False
        return True

    def line_of(self, path: Sequence[int | str]) -> int | None:
        """1-based line of the value at ``path`` (keys and list indices), or of its nearest parent."""
        node = self.root
        line = None if node is None else node.start_mark.line + 1
        for key in path:
            child = _child(node, key)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, key: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return cast("yaml.Node", value_node)
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return cast("yaml.Node", node.value[key])
    return None


def parse_yaml(text: str, name: str) -> YamlDocument:
    """Parse ``text``; ``name`` is the file name used in error messages."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = None if mark is None else mark.line + 1
        problem = exc.problem or "invalid YAML"
        raise InputSyntaxError(f"invalid YAML: {problem}", file=name, line=line) from exc
    except yaml.YAMLError as exc:
        raise InputSyntaxError(f"invalid YAML: {exc}", file=name) from exc
    finally:
        loader.dispose()
    return YamlDocument(name=name, data=data, root=root)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse the YAML file at ``path``, with clear errors for every way it can fail."""
    file = Path(path)
    if not file.exists():
        raise InputFileError("file not found", file=file)
    if not file.is_file():
        raise InputFileError("not a regular file", file=file)
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise InputFileError(f"file larger than {MAX_FILE_BYTES} bytes", file=file)
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError("not UTF-8 text", file=file) from exc
    except OSError as exc:
        raise InputFileError(f"cannot read file ({exc.strerror})", file=file) from exc
    return parse_yaml(text, str(file))


def validate(
    model: type[ModelT],
    doc: YamlDocument,
    data: object,
    path: Sequence[int | str] = (),
) -> ModelT:
    """Validate ``data`` (found at ``path`` inside ``doc``) as ``model``.

    The first pydantic error becomes an :class:`InputValueError` naming the file, line and
    dotted field.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = [*path, *(part for part in error["loc"] if isinstance(part, int | str))]
        field = ".".join(str(part) for part in loc) or None
        problem = _problem(error["msg"], error.get("input"), error["type"])
        raise InputValueError(problem, file=doc.name, line=doc.line_of(loc), field=field) from exc


def _problem(message: str, value: object, kind: str) -> str:
    message = message.removeprefix("Value error, ")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind.startswith("value_error") or isinstance(value, dict | list):
        return message
    return f"{message} (got {value!r})"
