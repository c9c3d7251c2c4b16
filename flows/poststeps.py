"""Steps that run after a batch is scored: the place per-agent aggregates and coaching plug in.

The registry is empty on purpose: nothing is pretended.  A later module registers a step with
``@post_step("agent-aggregates")``; the nightly flow runs every registered step, in order, as its
own Prefect task, after all calls of the batch are scored, and lists them in the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchResult:
    """What a post step receives: the batch id and the calls it scored (ids, agents, scores)."""

    batch: str
    scored: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agent_ids(self) -> list[str]:
        return sorted({c["agent_id"] for c in self.scored if c.get("agent_id")})


PostStep = Callable[[BatchResult], dict[str, Any] | None]

POST_SCORING_STEPS: dict[str, PostStep] = {}


def post_step(name: str) -> Callable[[PostStep], PostStep]:
    """Register ``fn`` to run after each nightly batch; names are unique so re-imports do not double it."""

    def register(fn: PostStep) -> PostStep:
        POST_SCORING_STEPS[name] = fn
        return fn

    return register
