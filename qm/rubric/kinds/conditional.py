"""``conditional``: when something happens, the agent must react within a time or turn budget.

The canonical case is empathy: when the customer is negative or upset, an
empathetic agent utterance must follow within N seconds or N turns.  When the
trigger never happens the criterion is not applicable, because an agent cannot
be marked down for not soothing a calm customer.  A trigger after which the
responding speaker never speaks again (the customer hung up) is not counted.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qm.rubric.examples import ExampleClassifier, ExampleSet
from qm.rubric.labels import LabelFilter, listify_filters, matches_any
from qm.rubric.registry import CriterionKind, PrepareContext, Verdict, register_kind
from qm.rubric.spec import HASHED_WHEN_SET, CriterionSpec, SpeakerSel
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
    trigger_examples: ExampleSet | None = None
    response_examples: ExampleSet | None = None
    require: Literal["all", "any", "ratio"] = "all"
    # what one "moment" is for all/any/ratio: each trigger utterance, or each turn of the trigger speaker
    # that holds one (a reviewer counts "I can't afford two thousand pounds. It's been a horrible few days."
    # as one upset moment, answered when either sentence is)
    count_by: Literal["utterance", "turn"] = Field(default="utterance", json_schema_extra=HASHED_WHEN_SET)
    min_ratio: float | None = Field(default=None, gt=0, le=1)
    partial_credit: bool = False
    # a response that a failed criterion flagged (its evidence) does not count: "you're not the only
    # person who lost a bag" can read as acknowledgement to the empathy head, but it broke professionalism
    response_not_flagged_by: list[str] = Field(default_factory=list)

    @field_validator("response_not_flagged_by", mode="before")
    @classmethod
    def _ids_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def references(self) -> list[tuple[tuple[str | int, ...], str]]:
        return [*super().references(),
                *((("response_not_flagged_by", j), r) for j, r in enumerate(self.response_not_flagged_by))]

    @field_validator("trigger", "response", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return listify_filters(v)

    @model_validator(mode="after")
    def _budget(self) -> ConditionalSpec:
        if self.within_seconds is None and self.within_turns is None:
            raise ValueError("give within_seconds and/or within_turns")
        if (self.require == "ratio") != (self.min_ratio is not None):
            raise ValueError("require: ratio needs min_ratio (e.g. 0.5), and min_ratio needs require: ratio")
        return self


def _describe(filters: list[LabelFilter], examples: ExampleSet | None = None) -> str:
    text = " or ".join(f.describe() for f in filters)
    if examples is None:
        return text
    return f"{text} and like the examples" + (f" of {examples.examples_file}" if examples.examples_file else "")


@register_kind("conditional")
class Conditional(CriterionKind):
    Spec = ConditionalSpec
    spec: ConditionalSpec

    def __init__(self, spec: ConditionalSpec) -> None:
        super().__init__(spec)
        self.trigger_clf = ExampleClassifier.from_set(spec.trigger_examples) if spec.trigger_examples else None
        self.response_clf = ExampleClassifier.from_set(spec.response_examples) if spec.response_examples else None

    def prepare(self, ctx: PrepareContext) -> None:
        for clf in (self.trigger_clf, self.response_clf):
            if clf is not None and not clf.prepared:
                clf.prepare(ctx.encoder(clf.space))

    @staticmethod
    def _select(call: CallView, utts: list[Utterance], filters: list[LabelFilter],
                clf: ExampleClassifier | None) -> set[int]:
        """Indexes of ``utts`` that match the label filters and, when given, the examples.

        A regex cue of the examples counts on its own, label filters or not: explicit wording ("I'm
        really shaken") needs no model, and the sentiment head reads some of it as neutral.
        """
        explicit = {u.index for u in utts if clf is not None and clf.explicit(u.text)}
        hits = [u for u in utts if u.index not in explicit and matches_any(filters, u)]
        if clf is None or not hits:
            return explicit | {u.index for u in hits}
        x = np.stack([call.embedding(u, clf.space) for u in hits])
        judged = clf.judge([u.text for u in hits], x)
        return explicit | {u.index for u, j in zip(hits, judged, strict=True) if j.matched}

    def _in_budget(self, trig: Utterance, resp: Utterance) -> bool:
        s = self.spec
        if s.within_seconds is not None and resp.start - trig.end <= s.within_seconds:
            return True
        return s.within_turns is not None and resp.turn - trig.turn <= s.within_turns

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        utts = call.utterances
        side = call.by_speaker(s.trigger_speaker)
        trig_ok = self._select(call, side, s.trigger, self.trigger_clf)
        triggers = [u for u in side if u.index in trig_ok]
        resp_ok = (self._select(call, call.by_speaker(s.response_speaker), s.response, self.response_clf)
                   if triggers else set())
        flagged = {i for cid in s.response_not_flagged_by
                   if (v := call.verdicts.get(cid)) is not None and v.passed is False for i in v.evidence}
        flagged_ok = resp_ok & flagged
        resp_ok -= flagged
        counted: list[Utterance] = []
        answered: dict[int, int] = {}
        overruled: set[int] = set()  # flagged responses that would have answered a trigger
        for trig in triggers:
            later = [u for u in utts[call.position(trig) + 1:]
                     if (s.response_speaker == "any" or u.speaker == s.response_speaker) and u is not trig]
            if not later:
                continue
            counted.append(trig)
            for resp in later:
                if not self._in_budget(trig, resp):
                    break
                if resp.index in flagged_ok:
                    overruled.add(resp.index)
                if resp.index in resp_ok:
                    answered[trig.index] = resp.index
                    break
        if not counted:
            why = "never happened" if not triggers else "happened only when the call was ending"
            return Verdict.na(f"trigger ({_describe(s.trigger, s.trigger_examples)}) {why}")
        moments: dict[int, list[Utterance]] = {}  # turn (or utterance) -> its triggers, in call order
        for t in counted:
            moments.setdefault(t.turn if s.count_by == "turn" else t.index, []).append(t)
        met = [any(t.index in answered for t in ts) for ts in moments.values()]
        n, n_ok = len(met), sum(met)
        ok = {"all": n_ok == n, "any": n_ok > 0, "ratio": n_ok >= (s.min_ratio or 0.0) * n}[s.require]
        missed = [t.index for ts, m in zip(moments.values(), met, strict=True) if not m for t in ts]
        evidence = list(dict.fromkeys(answered.values())) + missed
        credit = n_ok / n if s.partial_credit else None
        unit = "trigger(s)" if s.count_by == "utterance" else "turn(s) with a trigger"
        detail = (f"{n_ok} of {n} {unit} ({_describe(s.trigger, s.trigger_examples)}) followed by "
                  f"{_describe(s.response, s.response_examples)} in budget")
        if missed:
            detail += f"; unanswered: {', '.join(f'#{i}' for i in missed)}"
        if overruled:
            detail += (f"; not counted as {_describe(s.response)} (flagged by "
                       f"{', '.join(s.response_not_flagged_by)}): {', '.join(f'#{i}' for i in sorted(overruled))}")
        return Verdict.of(ok, evidence, detail, credit)

    def summary(self) -> str:
        s = self.spec
        budget = " or ".join(x for x in (
            f"{s.within_seconds:g} s" if s.within_seconds else "",
            f"{s.within_turns} turn(s)" if s.within_turns else "") if x)
        what = "triggers" if s.count_by == "utterance" else "turns with a trigger"
        req = f"at least {s.min_ratio:.0%} of {what}" if s.require == "ratio" else f"{s.require} {what}"
        unless = (f", not counting responses flagged by {', '.join(s.response_not_flagged_by)}"
                  if s.response_not_flagged_by else "")
        return (f"when {s.trigger_speaker} {_describe(s.trigger, s.trigger_examples)}: {s.response_speaker} "
                f"{_describe(s.response, s.response_examples)} within {budget} ({req}{unless})")
