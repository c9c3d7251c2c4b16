"""``conditional``: when something happens, the agent must react within a time or turn budget.

The canonical case is empathy: when the customer is negative or upset, an
empathetic agent utterance must follow within N seconds or N turns.  When the
trigger never happens the criterion is not applicable, because an agent cannot
be marked down for not soothing a calm customer.  A trigger after which the
responding speaker never speaks again (the customer hung up) is not counted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qm.rubric.labels import LabelFilter, listify_filters, matches_any
from qm.rubric.registry import CriterionKind, Verdict, register_kind
from qm.rubric.spec import CriterionSpec, SpeakerSel
from qm.rubric.view import CallView
from qm.types import Utterance


class ConditionalSpec(CriterionSpec):
    kind: Literal["conditional"] = "conditional"
    trigger_speaker: SpeakerSel = "customer"
    trigger: list[LabelFilter] = Field(min_length=1)
    response_speaker: SpeakerSel = "agent"
    response: list[LabelFilter] = Field(min_length=1)
    within_seconds: float | None = Field(default=None, gt=0)
    within_turns: int | None = Field(default=None, gt=0)
    require: Literal["all", "any"] = "all"
    partial_credit: bool = False

    @field_validator("trigger", "response", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return listify_filters(v)

    @model_validator(mode="after")
    def _budget(self) -> ConditionalSpec:
        if self.within_seconds is None and self.within_turns is None:
            raise ValueError("give within_seconds and/or within_turns")
        return self


def _describe(filters: list[LabelFilter]) -> str:
    return " or ".join(f.describe() for f in filters)


@register_kind("conditional")
class Conditional(CriterionKind):
    Spec = ConditionalSpec
    spec: ConditionalSpec

    def _in_budget(self, trig: Utterance, resp: Utterance) -> bool:
        s = self.spec
        if s.within_seconds is not None and resp.start - trig.end <= s.within_seconds:
            return True
        return s.within_turns is not None and resp.turn - trig.turn <= s.within_turns

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        utts = call.utterances
        triggers = [u for u in call.by_speaker(s.trigger_speaker) if matches_any(s.trigger, u.labels)]
        counted: list[Utterance] = []
        answered: dict[int, int] = {}
        for trig in triggers:
            later = [u for u in utts[call.position(trig) + 1:]
                     if (s.response_speaker == "any" or u.speaker == s.response_speaker) and u is not trig]
            if not later:
                continue
            counted.append(trig)
            for resp in later:
                if not self._in_budget(trig, resp):
                    break
                if matches_any(s.response, resp.labels):
                    answered[trig.index] = resp.index
                    break
        if not counted:
            why = "never happened" if not triggers else "happened only when the call was ending"
            return Verdict.na(f"trigger ({_describe(s.trigger)}) {why}")
        n_ok = sum(1 for t in counted if t.index in answered)
        ok = n_ok == len(counted) if s.require == "all" else n_ok > 0
        missed = [t.index for t in counted if t.index not in answered]
        evidence = list(answered.values()) + missed
        credit = n_ok / len(counted) if s.partial_credit else None
        detail = (f"{n_ok} of {len(counted)} trigger(s) ({_describe(s.trigger)}) followed by "
                  f"{_describe(s.response)} in budget")
        if missed:
            detail += f"; unanswered: {', '.join(f'#{i}' for i in missed)}"
        return Verdict.of(ok, evidence, detail, credit)

    def summary(self) -> str:
        s = self.spec
        budget = " or ".join(x for x in (
            f"{s.within_seconds:g} s" if s.within_seconds else "",
            f"{s.within_turns} turn(s)" if s.within_turns else "") if x)
        return (f"when {s.trigger_speaker} {_describe(s.trigger)}: {s.response_speaker} "
                f"{_describe(s.response)} within {budget} ({s.require})")
