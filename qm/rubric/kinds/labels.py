"""``label_count`` and ``label_ratio``: behaviour visible in the utterance labels.

E.g. "the agent asks at least 2 open questions" or "at least half of the agent's
questions are open".  Utterances without labels are ignored: they were not
classified, so they can neither earn nor lose points.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qm.rubric.labels import LabelFilter
from qm.rubric.registry import CriterionKind, Verdict, register_kind
from qm.rubric.spec import CriterionSpec, SpeakerSel, Window
from qm.rubric.view import CallView


class LabelCountSpec(CriterionSpec):
    kind: Literal["label_count"] = "label_count"
    speaker: SpeakerSel = "agent"
    where: LabelFilter
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)
    window: Window | None = None
    partial_credit: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> LabelCountSpec:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least and/or at_most")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least ({self.at_least}) is greater than at_most ({self.at_most})")
        return self


def _bounds_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    return f"at least {lo:g}" if lo is not None else f"at most {hi:g}"


@register_kind("label_count")
class LabelCount(CriterionKind):
    Spec = LabelCountSpec
    spec: LabelCountSpec

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        if not any(u.labels is not None for u in call.by_speaker(s.speaker)):
            return Verdict.na(f"no labelled {s.speaker} utterances")
        pool = [u for u in call.window(call.by_speaker(s.speaker), s.window) if u.labels is not None]
        hits = [u.index for u in pool if s.where.matches(u)]
        n = len(hits)
        ok = (s.at_least is None or n >= s.at_least) and (s.at_most is None or n <= s.at_most)
        credit = None
        if not ok and s.partial_credit and s.at_least and n < s.at_least:
            credit = n / s.at_least
        detail = (f"{n} {s.speaker} utterance(s) with {s.where.describe()}; "
                  f"needed {_bounds_text(s.at_least, s.at_most)}")
        return Verdict.of(ok, hits, detail, credit)

    def summary(self) -> str:
        s = self.spec
        return f"{s.speaker} utterances with {s.where.describe()}: {_bounds_text(s.at_least, s.at_most)}"


class LabelRatioSpec(CriterionSpec):
    kind: Literal["label_ratio"] = "label_ratio"
    speaker: SpeakerSel = "agent"
    numerator: LabelFilter
    denominator: LabelFilter = Field(default_factory=LabelFilter)
    at_least: float | None = Field(default=None, ge=0, le=1)
    at_most: float | None = Field(default=None, ge=0, le=1)
    min_count: int = Field(default=1, ge=1)
    window: Window | None = None
    partial_credit: bool = False

    @field_validator("denominator", mode="before")
    @classmethod
    def _none_is_all(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _bounds(self) -> LabelRatioSpec:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least and/or at_most (ratios between 0 and 1)")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least ({self.at_least}) is greater than at_most ({self.at_most})")
        return self


@register_kind("label_ratio")
class LabelRatio(CriterionKind):
    """Numerator utterances are counted among the denominator utterances (e.g. open among questions)."""

    Spec = LabelRatioSpec
    spec: LabelRatioSpec

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        pool = [u for u in call.window(call.by_speaker(s.speaker), s.window) if u.labels is not None]
        base = [u for u in pool if s.denominator.matches(u)]
        if len(base) < s.min_count:
            return Verdict.na(f"{len(base)} {s.speaker} utterance(s) with {s.denominator.describe()}, "
                              f"fewer than {s.min_count}")
        top = [u.index for u in base if s.numerator.matches(u)]
        ratio = len(top) / len(base)
        ok = (s.at_least is None or ratio >= s.at_least) and (s.at_most is None or ratio <= s.at_most)
        credit = None
        if not ok and s.partial_credit and s.at_least and ratio < s.at_least:
            credit = ratio / s.at_least
        detail = (f"{len(top)}/{len(base)} = {ratio:.2f} of {s.speaker} utterances with "
                  f"{s.denominator.describe()} have {s.numerator.describe()}; "
                  f"needed {_bounds_text(s.at_least, s.at_most)}")
        too_low = s.at_least is not None and ratio < s.at_least
        evidence = [u.index for u in base if u.index not in set(top)] if not ok and too_low else top
        return Verdict.of(ok, evidence, detail, credit)

    def summary(self) -> str:
        s = self.spec
        return (f"ratio of {s.numerator.describe()} among {s.speaker} {s.denominator.describe()}: "
                f"{_bounds_text(s.at_least, s.at_most)}")
