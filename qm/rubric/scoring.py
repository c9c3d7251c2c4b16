"""How criterion results add up to a call score and a coaching list (pure functions).

Semantics, as QA teams use them:

* a criterion is worth its ``weight`` in points; passed earns all of it, failed
  earns nothing (or a fraction, for kinds with ``partial_credit``);
* not applicable (``passed is None``) earns nothing *and is left out of the
  maximum*, so an agent is neither rewarded nor punished for a situation that
  never arose; its ``max_score`` is reported as 0, which keeps
  ``score == 100 * Σ score / Σ max_score`` true for every stored call;
* score = 100 × earned / applicable maximum; when nothing is applicable (an
  empty or one-sided call) the score is 0 — the contract needs a number, and a
  call with nothing to assess should surface for review rather than inflate an
  agent's average;
* a failed ``auto_fail`` (critical) criterion sets ``auto_failed`` and the
  score to 0 whatever else was earned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qm.types import CoachingItem, CriterionResult


def aggregate(results: Sequence[CriterionResult]) -> tuple[float, bool]:
    """Call score in [0, 100] and whether a critical criterion failed."""
    auto_failed = any(r.auto_fail and r.passed is False for r in results)
    earned = sum(r.score for r in results if r.passed is not None)
    maximum = sum(r.max_score for r in results if r.passed is not None)
    if auto_failed or maximum <= 0:
        return 0.0, auto_failed
    return max(0.0, min(100.0, 100.0 * earned / maximum)), auto_failed


def coaching(results: Sequence[CriterionResult], reasons: Mapping[str, str],
             resources: Mapping[str, list[dict[str, str]]]) -> list[CoachingItem]:
    """One item per skill with failed criteria: critical failures first, then by points lost.

    A failed criterion without a skill is coached under its own id, so no failure goes unmentioned.
    """
    lost: dict[str, float] = {}
    critical: dict[str, bool] = {}
    why: dict[str, list[str]] = {}
    for r in results:
        if r.passed is not False:
            continue
        skill = r.skill or r.id
        lost[skill] = lost.get(skill, 0.0) + max(0.0, r.max_score - r.score)
        critical[skill] = critical.get(skill, False) or r.auto_fail
        why.setdefault(skill, []).append(reasons.get(r.id, r.name))
    order = sorted(lost, key=lambda k: (not critical[k], -lost[k], k))
    return [CoachingItem(skill=k, reason="; ".join(why[k]), resources=list(resources.get(k, [])))
            for k in order]
