"""``metric``: thresholds on the call metrics (``qm.metrics``), e.g. "no more than 1 interruption".

Several checks may be combined (``checks:``), all of which must pass, so one
criterion such as "active listening" can mean "no interrupting and no long dead
air".  A check is not applicable when its metric has no meaning for the call:
talk ratio, overtalk and interruptions need both sides to speak; words per
minute and silence need the agent (dead air is judged as the agent's).  Speech
here means timed words, the metrics' only source.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from qm.rubric.registry import CriterionKind, Verdict, register_kind
from qm.rubric.spec import CriterionSpec, StrictModel
from qm.rubric.view import CallView
from qm.types import Utterance

MetricName = Literal["agent_talk_ratio", "customer_talk_ratio", "silence_ratio", "longest_silence_s",
                     "overtalk_s", "interruptions", "agent_words_per_minute", "hold_s", "longest_hold_s"]
NEEDS: dict[str, tuple[str, ...]] = {
    "agent_talk_ratio": ("agent", "customer"), "customer_talk_ratio": ("agent", "customer"),
    "overtalk_s": ("agent", "customer"), "interruptions": ("agent", "customer"),
    "agent_words_per_minute": ("agent",), "silence_ratio": ("agent",), "longest_silence_s": ("agent",),
    "hold_s": ("agent",), "longest_hold_s": ("agent",),
}


class MetricCheck(StrictModel):
    metric: MetricName
    at_least: float | None = Field(default=None, allow_inf_nan=False)
    at_most: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds(self) -> MetricCheck:
        if self.at_least is None and self.at_most is None:
            raise ValueError(f"give at_least and/or at_most for metric {self.metric}")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least ({self.at_least:g}) is greater than at_most ({self.at_most:g})")
        return self

    def describe(self) -> str:
        lo, hi = self.at_least, self.at_most
        if lo is not None and hi is not None:
            return f"{lo:g} ≤ {self.metric} ≤ {hi:g}"
        return f"{self.metric} ≥ {lo:g}" if lo is not None else f"{self.metric} ≤ {hi:g}"


class MetricSpec(CriterionSpec):
    kind: Literal["metric"] = "metric"
    metric: MetricName | None = None
    at_least: float | None = Field(default=None, allow_inf_nan=False)
    at_most: float | None = Field(default=None, allow_inf_nan=False)
    checks: list[MetricCheck] = Field(default_factory=list)
    partial_credit: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "metric" in data and "checks" in data:
            raise ValueError("give either metric (one check) or checks (a list), not both")
        return data

    @model_validator(mode="after")
    def _need_check(self) -> MetricSpec:
        if self.metric is None and not self.checks:
            raise ValueError("give metric with at_least/at_most, or a list of checks")
        if self.metric is None and (self.at_least is not None or self.at_most is not None):
            raise ValueError("at_least/at_most at this level need metric:")
        if self.metric is not None:
            MetricCheck(metric=self.metric, at_least=self.at_least, at_most=self.at_most)
        return self

    def all_checks(self) -> list[MetricCheck]:
        if self.metric is not None:
            return [MetricCheck(metric=self.metric, at_least=self.at_least, at_most=self.at_most)]
        return list(self.checks)


def _agent_at(call: CallView, t: float) -> int | None:
    """The agent utterance spoken at time ``t`` (or starting closest to it)."""
    agent = call.by_speaker("agent")
    inside = [u for u in agent if u.start - 0.5 <= t <= u.end]
    pool = inside or agent
    if not pool:
        return None
    return min(pool, key=lambda u: (abs(u.start - t), u.index)).index


def _evidence(call: CallView, metric: str) -> list[int]:
    tl = call.timeline
    if metric == "interruptions":
        return [i for t in tl.interruptions() if (i := _agent_at(call, t)) is not None]
    if metric == "overtalk_s":
        return [i for s, _ in tl.overtalk() if (i := _agent_at(call, s)) is not None]
    if metric in ("longest_silence_s", "longest_hold_s", "hold_s"):
        gap = (tl.longest_silence() if metric == "longest_silence_s"
               else max(tl.holds(), key=lambda g: (g[1] - g[0], -g[0]), default=None))
        if gap is None:
            return []
        before: list[Utterance] = [u for u in call.utterances if u.end <= gap[0] + 0.05]
        after = [u for u in call.utterances if u.start >= gap[1] - 0.05]
        return [u.index for u in (before[-1:] + after[:1])]
    return []


@register_kind("metric")
class Metric(CriterionKind):
    Spec = MetricSpec
    spec: MetricSpec

    def evaluate(self, call: CallView) -> Verdict:
        results: list[tuple[MetricCheck, float, bool]] = []
        skipped: list[str] = []
        for check in self.spec.all_checks():
            if not all(getattr(call.timeline, who) for who in NEEDS[check.metric]):
                skipped.append(check.metric)
                continue
            value = float(getattr(call.metrics, check.metric))
            ok = ((check.at_least is None or value >= check.at_least)
                  and (check.at_most is None or value <= check.at_most))
            results.append((check, value, ok))
        if not results:
            return Verdict.na(f"{', '.join(skipped)}: not measurable without timed speech of the side(s) needed")
        failed = [(c, v) for c, v, ok in results if not ok]
        parts = [f"{c.metric}={v:.3g} ({'ok' if ok else 'needs ' + c.describe()})" for c, v, ok in results]
        evidence = [i for c, _ in failed for i in _evidence(call, c.metric)]
        credit = (len(results) - len(failed)) / len(results) if self.spec.partial_credit else None
        return Verdict.of(not failed, evidence, "; ".join(parts), credit)

    def summary(self) -> str:
        return " and ".join(c.describe() for c in self.spec.all_checks())
