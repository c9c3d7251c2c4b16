"""A validated rubric and how it scores one call.

Criteria are evaluated in dependency order (``requires``) but reported in file
order.  A criterion whose prerequisite did not pass is not applicable: e.g.
"confirms the payment date" only makes sense once a payment was arranged.  So is
one whose ``not_applicable_when`` situation arose (a prospect has no account to
verify), before its own rule is asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qm.rubric.registry import CriterionKind, PrepareContext, Verdict
from qm.rubric.scoring import aggregate, coaching
from qm.rubric.spec import CriterionSpec, SkillSpec, compile_patterns
from qm.rubric.view import CallView, ScoringInput
from qm.types import CoachingItem, CriterionResult


@dataclass(slots=True)
class RubricOutcome:
    criteria: list[CriterionResult]
    score: float
    auto_failed: bool
    coaching: list[CoachingItem]


def _dependency_order(specs: list[CriterionSpec]) -> list[int]:
    """Stable topological order (file order among independent criteria); the loader rejected cycles.

    Follows every reference, not only ``requires``: a criterion that reads another's verdict runs after it.
    """
    pos = {s.id: i for i, s in enumerate(specs)}
    done: set[int] = set()
    order: list[int] = []

    def visit(i: int) -> None:
        if i in done:
            return
        done.add(i)
        for _, ref in specs[i].references():
            visit(pos[ref])
        order.append(i)

    for i in range(len(specs)):
        visit(i)
    return order


def _not_applicable(spec: CriterionSpec, patterns: list[re.Pattern[str]], view: CallView) -> Verdict | None:
    """The not-applicable verdict when ``spec.not_applicable_when`` (compiled: ``patterns``) matches the call,
    with the utterance as evidence (a supervisor sees why the item was left out); ``None`` when it applies."""
    when = spec.not_applicable_when
    if when is None:
        return None
    for u in view.window(view.by_speaker(when.speaker), when.window):
        if any(p.search(u.text) for p in patterns):
            where = when.window.describe() if when.window else "whole call"
            return Verdict(None, 0.0, [u.index], f"not applicable: #{u.index} by the {u.speaker} matches "
                                                 f"not_applicable_when ({where})")
    return None


class Rubric:
    """A loaded rubric; build it with ``qm.rubric.load_rubric``."""

    def __init__(self, *, id: str, name: str, description: str, version: str, path: Path,
                 skills: Mapping[str, SkillSpec], criteria: list[CriterionKind],
                 dependencies: Mapping[str, str] | None = None) -> None:
        self.id = id
        self.name = name
        self.description = description
        self.version = version
        self.path = path
        self.skills = dict(skills)
        self.kinds = criteria
        # other files the rubric was built from (examples files): path -> sha256 of their content
        self.dependencies = dict(dependencies or {})
        self._order = _dependency_order([k.spec for k in criteria])
        self._na_patterns = {k.spec.id: compile_patterns(k.spec.not_applicable_when.regex)
                             for k in criteria if k.spec.not_applicable_when}
        self._prepared = False
        self._encoder_factory: Callable[[], Any] | None = None

    @property
    def criteria(self) -> list[CriterionSpec]:
        return [k.spec for k in self.kinds]

    def prepare(self, encoder_factory: Callable[[], Any] | None = None) -> None:
        """Load-time work of every criterion (embedding examples, training custom behaviours)."""
        if self._prepared:
            return
        ctx = PrepareContext(encoder_factory)
        for k in self.kinds:
            k.prepare(ctx)
        self._encoder_factory = ctx.encoder
        self._prepared = True

    def resources(self) -> dict[str, list[dict[str, str]]]:
        return {k: [{"title": r.title, "url": str(r.url)} for r in v.resources] for k, v in self.skills.items()}

    def score(self, call: ScoringInput) -> RubricOutcome:
        self.prepare()
        assert self._encoder_factory is not None
        view = CallView(call, self._encoder_factory)
        verdicts: dict[str, Verdict] = view.verdicts
        for i in self._order:
            kind = self.kinds[i]
            unmet = [r for r in kind.spec.requires if verdicts[r].passed is not True]
            if unmet:
                verdicts[kind.spec.id] = Verdict.na(f"requires {', '.join(unmet)} to pass")
            else:
                na = _not_applicable(kind.spec, self._na_patterns.get(kind.spec.id, []), view)
                verdicts[kind.spec.id] = na or kind.evaluate(view)
        results: list[CriterionResult] = []
        reasons: dict[str, str] = {}
        for kind in self.kinds:
            s, v = kind.spec, verdicts[kind.spec.id]
            applicable = v.passed is not None
            results.append(CriterionResult(
                id=s.id, name=s.title, passed=v.passed,
                score=s.weight * v.credit if applicable else 0.0,
                max_score=s.weight if applicable else 0.0,
                auto_fail=s.auto_fail and v.passed is False,
                evidence=list(v.evidence), skill=s.skill, detail=v.detail,
            ))
            reasons[s.id] = s.fail_reason or f"{s.title}: {v.detail}"
        total, auto_failed = aggregate(results)
        return RubricOutcome(criteria=results, score=total, auto_failed=auto_failed,
                             coaching=coaching(results, reasons, self.resources()))
