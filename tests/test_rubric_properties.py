"""Scoring semantics as properties: weights, N/A exclusion, auto-fail, bounds, coaching order."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qm.metrics import compute_metrics
from qm.rubric import Rubric, ScoringInput, aggregate, load_rubric
from qm.rubric.scoring import coaching
from qm.types import CriterionResult, Empathy, Sentiment, Utterance, UtteranceLabels


def make(i: int, weight: float, passed: bool | None, credit: float, critical: bool, skill: str | None
         ) -> CriterionResult:
    """A result built the way the engine builds one (see qm.rubric.engine.Rubric.score)."""
    applicable = passed is not None
    earned = weight if passed else weight * credit if passed is False else 0.0
    return CriterionResult(id=f"c{i}", name=f"C{i}", passed=passed, score=earned if applicable else 0.0,
                           max_score=weight if applicable else 0.0, auto_fail=critical and passed is False,
                           evidence=[], skill=skill)


weights = st.just(0.0) | st.floats(1e-3, 100)  # what people write in a rubric (no subnormal floats)
criterion = st.tuples(
    weights, st.sampled_from([True, False, None]), st.floats(0, 1),
    st.booleans() | st.just(False), st.sampled_from([None, "a", "b", "c"]),
)
rubrics = st.lists(criterion, min_size=0, max_size=12)


def build(specs: list[tuple[float, bool | None, float, bool, str | None]]) -> list[CriterionResult]:
    return [make(i, *s) for i, s in enumerate(specs)]


@settings(max_examples=300)
@given(rubrics)
def test_score_is_bounded_and_matches_the_formula(specs: list) -> None:
    results = build(specs)
    score, auto_failed = aggregate(results)
    assert 0.0 <= score <= 100.0
    assert auto_failed == any(r.auto_fail for r in results)
    maximum = sum(r.max_score for r in results)
    if auto_failed or maximum == 0:
        assert score == 0.0
    else:
        assert math.isclose(score, 100 * sum(r.score for r in results) / maximum, abs_tol=1e-9)


@settings(max_examples=200)
@given(rubrics, st.lists(criterion.filter(lambda c: c[1] is None), max_size=5))
def test_not_applicable_criteria_never_change_the_score(specs: list, extra: list) -> None:
    base = build(specs)
    with_na = base + [make(100 + i, *s) for i, s in enumerate(extra)]
    assert aggregate(with_na) == aggregate(base)


@settings(max_examples=200)
@given(rubrics, st.floats(0.01, 1000))
def test_only_relative_weights_matter(specs: list, k: float) -> None:
    scaled = [(w * k, p, c, a, s) for w, p, c, a, s in specs]
    a, fa = aggregate(build(specs))
    b, fb = aggregate(build(scaled))
    assert fa == fb and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=200)
@given(rubrics)
def test_a_failed_critical_criterion_zeroes_the_call(specs: list) -> None:
    results = [*build(specs), make(99, 1.0, False, 0.0, True, None)]
    assert aggregate(results) == (0.0, True)


@settings(max_examples=200)
@given(rubrics)
def test_all_applicable_passed_is_100(specs: list) -> None:
    results = build([(w, True if p is not None else None, c, a, s) for w, p, c, a, s in specs])
    score, auto_failed = aggregate(results)
    applicable_weight = sum(r.max_score for r in results)
    assert not auto_failed
    if applicable_weight > 0:
        assert math.isclose(score, 100.0)
    else:
        assert score == 0.0  # nothing applicable: documented as 0


@settings(max_examples=200)
@given(rubrics, st.data())
def test_passing_a_failed_criterion_never_lowers_the_score(specs: list, data: st.DataObject) -> None:
    failed = [i for i, s in enumerate(specs) if s[1] is False and not s[3]]
    if not failed:
        return
    i = data.draw(st.sampled_from(failed))
    better = list(specs)
    w, _, c, a, s = better[i]
    better[i] = (w, True, c, a, s)
    assert aggregate(build(better))[0] >= aggregate(build(specs))[0] - 1e-9


@settings(max_examples=200)
@given(rubrics)
def test_coaching_covers_every_failure_in_order(specs: list) -> None:
    results = build(specs)
    items = coaching(results, {}, {"a": [{"title": "A", "url": "https://training.example.com/a"}]})
    failed = [r for r in results if r.passed is False]
    assert {i.skill for i in items} == {r.skill or r.id for r in failed}
    keys = []
    for item in items:
        mine = [r for r in failed if (r.skill or r.id) == item.skill]
        keys.append((not any(r.auto_fail for r in mine), -sum(r.max_score - r.score for r in mine)))
        assert item.resources == ([{"title": "A", "url": "https://training.example.com/a"}]
                                  if item.skill == "a" else [])
    assert keys == sorted(keys)


# --- the engine end to end on random labelled calls (label and metric kinds: no encoder needed) ---------

RUBRIC = """\
name: props
criteria:
  - {id: open_q, kind: label_count, where: {question: open}, at_least: 2, partial_credit: true, weight: 3}
  - {id: ratio, kind: label_ratio, numerator: {question: open}, denominator: {question: [open, closed]},
     at_least: 0.5, weight: 2}
  - id: empathy
    kind: conditional
    trigger: {sentiment: negative}
    response: {empathy: true}
    within_turns: 2
    partial_credit: true
    weight: 4
  - {id: rude, kind: label_count, where: {emotion: anger}, at_most: 0, auto_fail: true, weight: 1}
  - {id: pace, kind: metric, metric: interruptions, at_most: 1, weight: 2}
  - {id: mood, kind: sentiment_trajectory, weight: 2}
"""

utterance = st.tuples(
    st.sampled_from(["agent", "customer", "unknown"]),
    st.sampled_from(["negative", "neutral", "positive"]),
    st.sampled_from([None, "anger", "joy"]),
    st.booleans(),
    st.sampled_from([None, "open", "closed"]),
    st.floats(0.1, 5),
    st.floats(-0.5, 1.0),
)


@pytest.fixture(scope="module")
def props_rubric(tmp_path_factory: pytest.TempPathFactory) -> Rubric:
    path = tmp_path_factory.mktemp("rubric") / "props.yaml"
    path.write_text(RUBRIC)
    return load_rubric(path)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(utterance, max_size=25), duration=st.floats(0, 200))
def test_engine_scores_any_labelled_call_within_bounds_and_deterministically(
        props_rubric: Rubric, rows: list, duration: float) -> None:
    rubric = props_rubric
    utts, t, turn, prev = [], 0.0, -1, None
    for i, (spk, sent, emo, emp, q, length, gap) in enumerate(rows):
        if spk != prev:
            turn, prev = turn + 1, spk
        start = max(0.0, t + gap)
        score = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sent]
        labels = UtteranceLabels(Sentiment(sent, score), emo, Empathy(emp, 0.5), q)
        utts.append(Utterance(i, spk, start, start + length, "x", turn, 1, labels))
        t = start + length
    inp = ScoringInput(utts, [], compute_metrics([], utts, duration), duration)
    a, b = rubric.score(inp), rubric.score(inp)
    assert a == b
    assert 0.0 <= a.score <= 100.0
    assert (a.score, a.auto_failed) == aggregate(a.criteria)
    assert all(c.passed is None for c in a.criteria if c.id in ("empathy", "mood")) or any(
        u.speaker == "customer" for u in utts)
    if a.auto_failed:
        assert a.score == 0.0 and a.coaching[0].skill == "rude"
