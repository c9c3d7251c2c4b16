"""``sentiment_trajectory``: did the customer leave at least as happy as they arrived?

Compares ``metrics.customer_sentiment_end`` with ``..._start`` (see
``qm.metrics``: mean signed score of the first/last few customer utterances).
``when_start`` restricts the criterion to calls that began in a given mood, e.g.
"improved, when it started negative"; other calls are not applicable.

``not_left_upset`` is how reviewers read "no less satisfied than they arrived"
in practice: a caller who rang in angry and is still negative at the end was
not helped, even though their mood did not get worse.  It passes when the end
is not negative, or when it is still negative but clearly better than the start
(mean signed score up by at least ``min_gain``).  ``upset_at`` moves the bar
for "still upset at the end": by default it is the metric's own label (mean
end score at or below -0.2), but the sentiment head scores calm sign-offs a
little negative ("No, that's it." -0.3, "Will I get a confirmation?" -0.2), so
a neutral goodbye can read as an upset customer; ``upset_at: -0.3`` (the default
rubric's) asks for a clearly negative end.

``end_cues`` let the customer's own closing words decide when they are explicit.
The sentiment head reads many of them the wrong way round: relief is worded with
negative words ("That's a relief, I was dreading this call"), sarcasm with
positive ones ("Thanks for nothing"), and resigned acceptance ("I'll just have to
hope they turn up, I suppose") as neutral or better.  The closing window starts at
the customer's ``last_utterances``-th last utterance of at least three words (so a
run of "Thanks." "Bye." does not push the verdict out of it) and holds every
utterance from there on, short ones included: "Thank goodness." and "That's
reassuring." are verdicts too.  The last cue found in it decides (satisfied →
passed, dissatisfied → failed); with no cue the sentiment rule applies.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from qm.metrics import customer_sentiment_mean, substantive
from qm.rubric.labels import SentimentValue
from qm.rubric.registry import CriterionKind, Verdict, register_kind
from qm.rubric.spec import CriterionSpec, RegexList, StrictModel, compile_patterns
from qm.rubric.view import CallView
from qm.types import Utterance

RANK = {"negative": 0, "neutral": 1, "positive": 2}


class EndCues(StrictModel):
    """Explicit closing verdicts of the customer, matched as regex (case-insensitive)."""

    last_utterances: int = Field(default=4, ge=1, le=20)
    satisfied: RegexList = Field(default_factory=list)
    dissatisfied: RegexList = Field(default_factory=list)

    @model_validator(mode="after")
    def _some(self) -> EndCues:
        if not self.satisfied and not self.dissatisfied:
            raise ValueError("give satisfied and/or dissatisfied regex cues")
        return self


class TrajectorySpec(CriterionSpec):
    kind: Literal["sentiment_trajectory"] = "sentiment_trajectory"
    require: Literal["not_worse", "improved", "end_not_negative", "end_positive", "not_left_upset"] = "not_worse"
    when_start: list[SentimentValue] | None = None
    min_gain: float = Field(default=0.3, gt=0, le=2)
    min_customer_utterances: int = Field(default=2, ge=1)
    end_cues: EndCues | None = None
    upset_at: float | None = Field(default=None, ge=-1, lt=0)

    @model_validator(mode="after")
    def _upset_at_needs_not_left_upset(self) -> TrajectorySpec:
        if self.upset_at is not None and self.require != "not_left_upset":
            raise ValueError(f"upset_at applies to require: not_left_upset, not {self.require!r}")
        return self

    @field_validator("when_start", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


@register_kind("sentiment_trajectory")
class SentimentTrajectory(CriterionKind):
    Spec = TrajectorySpec
    spec: TrajectorySpec

    def __init__(self, spec: TrajectorySpec) -> None:
        super().__init__(spec)
        cues = spec.end_cues
        self._satisfied = compile_patterns(cues.satisfied) if cues else []
        self._dissatisfied = compile_patterns(cues.dissatisfied) if cues else []

    def closing_cue(self, customer: list[Utterance]) -> tuple[bool, Utterance] | None:
        """(satisfied?, utterance) of the last explicit closing verdict, if the customer gave one."""
        cues = self.spec.end_cues
        if cues is None:
            return None
        found = None
        window = substantive(customer)[-cues.last_utterances:]
        if not window:
            return None
        first = customer.index(window[0])
        for u in customer[first:]:
            if any(p.search(u.text) for p in self._dissatisfied):
                found = (False, u)
            elif any(p.search(u.text) for p in self._satisfied):
                found = (True, u)
        return found

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        start, end = call.metrics.customer_sentiment_start, call.metrics.customer_sentiment_end
        n = sum(1 for u in call.by_speaker("customer") if u.labels is not None)
        if start is None or end is None or n < s.min_customer_utterances:
            return Verdict.na(f"{n} labelled customer utterance(s); need {s.min_customer_utterances}")
        if s.when_start is not None and start not in s.when_start:
            return Verdict.na(f"customer started {start}; criterion applies when starting "
                              f"{' or '.join(s.when_start)}")
        cue = self.closing_cue([u for u in call.by_speaker("customer") if u.labels is not None])
        if cue is not None:
            ok, u = cue
            return Verdict.of(ok, [u.index], f"customer's closing words #{u.index} are "
                                             f"{'satisfied' if ok else 'dissatisfied'} (cue)")
        s_mean, first = customer_sentiment_mean(call.utterances, "start")
        e_mean, last = customer_sentiment_mean(call.utterances, "end")
        assert s_mean is not None and e_mean is not None  # start/end labels exist, so the means do
        left_upset = end == "negative" if s.upset_at is None else e_mean <= s.upset_at
        ok = {
            "not_worse": RANK[end] >= RANK[start],
            "improved": RANK[end] > RANK[start] or (start == end == "positive"),
            "end_not_negative": end != "negative",
            "end_positive": end == "positive",
            "not_left_upset": not left_upset or e_mean - s_mean >= s.min_gain,
        }[s.require]
        bar = f", upset at ≤ {s.upset_at:+.2f}" if s.upset_at is not None else ""
        return Verdict.of(ok, first + last, f"customer sentiment {start} → {end}, mean {s_mean:+.2f} → "
                                            f"{e_mean:+.2f} (needs {s.require}{bar})")

    def summary(self) -> str:
        cond = f" when starting {' or '.join(self.spec.when_start)}" if self.spec.when_start else ""
        cues = " (explicit closing words decide first)" if self.spec.end_cues else ""
        return f"customer sentiment end vs start: {self.spec.require}{cond}{cues}"
