"""``sentiment_trajectory``: did the customer leave at least as happy as they arrived?

Compares ``metrics.customer_sentiment_end`` with ``..._start`` (see
``qm.metrics``: mean signed score of the first/last few customer utterances).
``when_start`` restricts the criterion to calls that began in a given mood, e.g.
"improved, when it started negative"; other calls are not applicable.

``not_left_upset`` is how reviewers read "no less satisfied than they arrived"
in practice: a caller who rang in angry and is still negative at the end was
not helped, even though their mood did not get worse.  It passes when the end
is not negative, or when it is still negative but clearly better than the start
(mean signed score up by at least ``min_gain``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from qm.metrics import customer_sentiment_mean
from qm.rubric.labels import SentimentValue
from qm.rubric.registry import CriterionKind, Verdict, register_kind
from qm.rubric.spec import CriterionSpec
from qm.rubric.view import CallView

RANK = {"negative": 0, "neutral": 1, "positive": 2}


class TrajectorySpec(CriterionSpec):
    kind: Literal["sentiment_trajectory"] = "sentiment_trajectory"
    require: Literal["not_worse", "improved", "end_not_negative", "end_positive", "not_left_upset"] = "not_worse"
    when_start: list[SentimentValue] | None = None
    min_gain: float = Field(default=0.3, gt=0, le=2)
    min_customer_utterances: int = Field(default=2, ge=1)

    @field_validator("when_start", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


@register_kind("sentiment_trajectory")
class SentimentTrajectory(CriterionKind):
    Spec = TrajectorySpec
    spec: TrajectorySpec

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        start, end = call.metrics.customer_sentiment_start, call.metrics.customer_sentiment_end
        n = sum(1 for u in call.by_speaker("customer") if u.labels is not None)
        if start is None or end is None or n < s.min_customer_utterances:
            return Verdict.na(f"{n} labelled customer utterance(s); need {s.min_customer_utterances}")
        if s.when_start is not None and start not in s.when_start:
            return Verdict.na(f"customer started {start}; criterion applies when starting "
                              f"{' or '.join(s.when_start)}")
        s_mean, first = customer_sentiment_mean(call.utterances, "start")
        e_mean, last = customer_sentiment_mean(call.utterances, "end")
        assert s_mean is not None and e_mean is not None  # start/end labels exist, so the means do
        ok = {
            "not_worse": RANK[end] >= RANK[start],
            "improved": RANK[end] > RANK[start] or (start == end == "positive"),
            "end_not_negative": end != "negative",
            "end_positive": end == "positive",
            "not_left_upset": end != "negative" or e_mean - s_mean >= s.min_gain,
        }[s.require]
        return Verdict.of(ok, first + last, f"customer sentiment {start} → {end}, mean {s_mean:+.2f} → "
                                            f"{e_mean:+.2f} (needs {s.require})")

    def summary(self) -> str:
        cond = f" when starting {' or '.join(self.spec.when_start)}" if self.spec.when_start else ""
        return f"customer sentiment end vs start: {self.spec.require}{cond}"
