"""``custom_behaviour``: a behaviour defined only by example sentences in the rubric.

A QA lead can add "offers a callback" without code: the rubric's positive and
negative examples (plus optional regex cues) train a small classifier at load
time, cached by the examples' hash (``qm.rubric.examples`` explains the guards
that make a classifier trained on a handful of sentences usable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from qm.rubric.examples import (
    BACKGROUND_NEGATIVES,
    CLAUSES_FIELD,
    ExampleClassifier,
    ExampleList,
    check_disjoint,
)
from qm.rubric.kinds.presence import Match, PresenceKind, PresenceSpec
from qm.rubric.registry import PrepareContext, register_kind
from qm.rubric.view import CallView
from qm.types import Utterance

__all__ = ["BACKGROUND_NEGATIVES", "CustomBehaviour", "CustomBehaviourSpec"]


class CustomBehaviourSpec(PresenceSpec):
    kind: Literal["custom_behaviour"] = "custom_behaviour"
    positive: ExampleList = Field(min_length=3)
    negative: ExampleList = Field(min_length=3)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_similarity: float = Field(default=0.3, ge=0, le=1)
    # also judge the clauses of a long utterance (qm.rubric.examples.CLAUSE_MIN_WORDS)
    clauses: bool = Field(default=False, json_schema_extra=CLAUSES_FIELD)

    @model_validator(mode="after")
    def _disjoint(self) -> CustomBehaviourSpec:
        check_disjoint(self.positive, self.negative)
        return self


@register_kind("custom_behaviour")
class CustomBehaviour(PresenceKind):
    Spec = CustomBehaviourSpec
    spec: CustomBehaviourSpec
    uses_encoder = True

    def __init__(self, spec: CustomBehaviourSpec) -> None:
        super().__init__(spec)
        self.what = "behaviour"
        self.classifier = ExampleClassifier(spec.positive, spec.negative, spec.threshold, spec.min_similarity,
                                            spec.regex, spec.clauses)

    @property
    def cache_path(self) -> Path | None:
        return self.classifier.cache_path

    @property
    def from_cache(self) -> bool:
        return self.classifier.from_cache

    def prepare(self, ctx: PrepareContext) -> None:
        if not self.classifier.prepared:
            self.classifier.prepare(ctx.encoder())

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:
        x = np.stack([call.embedding(u) for u in utts])
        judged = self.classifier.judge([u.text for u in utts], x)
        return [Match(u, j.score, j.matched, j.how) for u, j in zip(utts, judged, strict=True)]

    def summary(self) -> str:
        s = self.spec
        where = s.window.describe() if s.window else "whole call"
        rx = f", {len(s.regex)} regex" if s.regex else ""
        rx += f", {len(s.reactions)} reaction regex" if s.reactions else ""
        return (f"{s.mode} {s.speaker} behaviour ({len(s.positive)} positive / {len(s.negative)} negative "
                f"examples, p ≥ {s.threshold:g}{rx}; {where})")
