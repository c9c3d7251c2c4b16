"""The one exception a broken rubric raises, carrying file, line, field and a hint.

QA leads edit rubrics by hand; an error they can act on must say *where*
(file:line), *what* (the field, in the same dotted form the docs use) and *how to
fix it* (a hint), so every validation path funnels into ``RubricError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qm.errors import QMError


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a rubric file."""

    line: int | None
    field: str
    reason: str
    hint: str = ""

    def render(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        head = f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"
        return f"{head}\n    hint: {self.hint}" if self.hint else head


class RubricError(QMError):
    """A rubric that cannot be used; ``issues`` lists every problem found, the first is the primary one."""

    def __init__(self, path: str | Path, issues: list[Issue]) -> None:
        if not issues:
            raise ValueError("RubricError needs at least one issue")
        self.path = str(path)
        self.issues = list(issues)
        first = self.issues[0]
        self.line = first.line
        self.field = first.field
        self.reason = first.reason
        self.hint = first.hint
        super().__init__("\n".join(i.render(self.path) for i in self.issues))

    @classmethod
    def one(cls, path: str | Path, line: int | None, field: str, reason: str, hint: str = "") -> RubricError:
        return cls(path, [Issue(line, field, reason, hint)])
