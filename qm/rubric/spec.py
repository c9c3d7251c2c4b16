"""Pydantic models for what a rubric file may say (common to every criterion kind).

Each criterion kind extends ``CriterionSpec`` with its own fields and
``extra="forbid"``, so a misspelt option is an error at load time rather than
a criterion that quietly uses a default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

SpeakerSel = Literal["agent", "customer", "any"]
# which sentence vectors a meaning match compares: the plain all-MiniLM space (made for similarity), or
# the adapted space the classifier heads read (fine-tuned on sentiment, emotion, empathy, questions)
EmbeddingSpace = Literal["similarity", "labeller"]
# Marks an option added after rubric versions were first stored with results: the loader hashes it only when
# it differs from its default (which keeps the earlier behaviour), so upgrading qm does not re-version a rubric
# that does not use it.  Use as ``Field(default=..., json_schema_extra=HASHED_WHEN_SET)``.
HASHED_WHEN_SET = {"hashed_when_set": True}
ID_PATTERN = r"^[a-z][a-z0-9_]*$"


def listify(v: object) -> object:
    return [v] if isinstance(v, str) else v


def _check_regexes(v: list[str]) -> list[str]:
    """Compile every pattern at load time, so a typo is a rubric error, not a silent miss."""
    for pattern in v:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    return v


# A rubric field holding regex cues (a single string is accepted as a list of one).
RegexList = Annotated[list[str], BeforeValidator(listify), AfterValidator(_check_regexes)]


def compile_patterns(regex: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE) for p in regex]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(StrictModel):
    """Where in the call a criterion looks; at most one bound.

    Counts (utterances, turns) are taken among the criterion's speaker's
    utterances, so "last 3 utterances" of a closing check means the agent's last
    three, whatever the customer said after them.
    """

    first_seconds: float | None = Field(default=None, gt=0)
    last_seconds: float | None = Field(default=None, gt=0)
    first_utterances: int | None = Field(default=None, gt=0)
    last_utterances: int | None = Field(default=None, gt=0)
    first_turns: int | None = Field(default=None, gt=0)
    last_turns: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_bound(self) -> Window:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"give only one window bound, got {', '.join(given)}")
        return self

    def describe(self) -> str:
        for k, v in self.model_dump().items():
            if v is not None:
                edge, unit = k.split("_")
                return f"{edge} {v:g} s" if unit == "seconds" else f"{edge} {v:g} {unit}"
        return "whole call"


class NotApplicableWhen(StrictModel):
    """A situation in which a criterion does not apply, recognised by what one speaker says.

    Scorecards mark items "N/A if …": identity verification when the caller has no account to verify
    (a prospect asking for a quote), a payment disclosure when no payment is taken.  Without it such a call
    fails the item, or passes it on something that only looks like it (a zip code asked to check coverage).
    When any utterance of ``speaker`` in ``window`` matches one of ``regex``, the criterion is not applicable,
    whatever its own rule would say, and that utterance is its evidence.
    """

    speaker: SpeakerSel = "customer"
    regex: RegexList = Field(min_length=1)
    window: Window | None = None

    def describe(self) -> str:
        where = self.window.describe() if self.window else "whole call"
        who = "anyone" if self.speaker == "any" else f"the {self.speaker}"
        return f"when {who} says something matching {len(self.regex)} regex ({where})"


def _no_bool_number(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("expected a number, got a yes/no value")
    return v


class CriterionSpec(StrictModel):
    """Fields every criterion has, whatever its kind."""

    id: str = Field(pattern=ID_PATTERN, max_length=64)
    name: str | None = None
    description: str = ""
    kind: str
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    auto_fail: bool = False
    skill: str | None = None
    requires: list[str] = Field(default_factory=list)
    fail_reason: str | None = None
    not_applicable_when: NotApplicableWhen | None = Field(default=None, json_schema_extra=HASHED_WHEN_SET)

    @field_validator("weight", mode="before")
    @classmethod
    def _weight_not_bool(cls, v: Any) -> Any:
        return _no_bool_number(v)

    @field_validator("requires", mode="before")
    @classmethod
    def _requires_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    def references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Other criteria this one reads, each with its field location (for errors and evaluation order).

        A kind that reads other verdicts (e.g. ``conditional``'s ``response_not_flagged_by``) adds its
        own fields, so the loader checks them and the engine evaluates them first.
        """
        return [(("requires", j), r) for j, r in enumerate(self.requires)]

    @property
    def title(self) -> str:
        return self.name or self.id.replace("_", " ").capitalize()


class Resource(StrictModel):
    title: str = Field(min_length=1)
    url: HttpUrl


class SkillSpec(StrictModel):
    """A coaching skill; ``resources`` are training links shown with every failed criterion of it."""

    name: str | None = None
    description: str = ""
    resources: list[Resource] = Field(default_factory=list)


class RubricHeader(StrictModel):
    """Top-level fields; ``criteria`` are validated one by one against their kind's model."""

    id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    name: str = Field(min_length=1)
    description: str = ""
    skills: dict[str, SkillSpec] = Field(default_factory=dict)
    criteria: list[Any] = Field(min_length=1)

    @field_validator("skills")
    @classmethod
    def _skill_ids(cls, v: dict[str, SkillSpec]) -> dict[str, SkillSpec]:
        import re

        bad = [k for k in v if not re.match(ID_PATTERN, k)]
        if bad:
            raise ValueError(f"skill id {bad[0]!r} must be lower_snake_case")
        return v
