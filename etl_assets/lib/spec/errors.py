"""Errors raised while loading a pipeline spec.

Every problem carries the file, the line and the dotted field path, so a user can jump
straight to the offending YAML line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one field of one spec file."""

    file: Path | None
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = str(self.file) if self.file is not None else "<spec>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        field = self.field or "(top level)"
        return f"{where}: {field}: {self.message}"


class SpecError(ValueError):
    """A spec file is invalid; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = sorted(issues, key=lambda i: (str(i.file), i.line or 0, i.field))
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        super().__init__(f"invalid pipeline spec ({len(self.issues)} {noun}):\n{lines}")
