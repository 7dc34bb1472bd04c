"""The exceptions suanli raises.

Every error suanli raises on purpose derives from :class:`SuanliError`::

    SuanliError
     ├── InputError                 bad input; carries file, line, field, problem
     │    ├── InputFileError        missing, unreadable or not a regular file
     │    ├── InputSyntaxError      the file is not valid YAML
     │    ├── InputValueError       a field has a wrong type or an absurd value
     │    └── UnknownIdError        an id that is in no catalog; suggests the closest ones
     └── InfeasibleError            a valid request that cannot be met (model does not fit, ...)
          └── MissingDataError      a prediction needs a figure no source gives

The command line prints ``error: <message>`` on one line and exits with code 2 for any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class SuanliError(Exception):
    """Base class of every error suanli raises on purpose."""


class InputError(SuanliError):
    """Bad input, located as precisely as known.

    The message reads ``FILE:LINE: FIELD: problem``, leaving out what is unknown.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [p for p in (where, self.field) if p]
        return ": ".join([*parts, self.problem])


class InputFileError(InputError):
    """A file that is missing, unreadable or not a regular file."""


class InputSyntaxError(InputError):
    """A file that is not valid YAML."""


class InputValueError(InputError):
    """A field with a wrong type, a missing required field or an absurd value."""


class UnknownIdError(InputError):
    """An id that names nothing in the catalog."""

    def __init__(
        self,
        kind: str,
        unknown: str,
        suggestions: Sequence[str],
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.kind = kind
        self.unknown = unknown
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} {unknown!r}{hint}", file=file, line=line, field=field)


class InfeasibleError(SuanliError):
    """A well-formed request that cannot be met, such as a model that does not fit in memory."""


class MissingDataError(InfeasibleError):
    """A prediction that needs a figure the catalog or the source does not give."""
