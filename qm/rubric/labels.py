"""The label vocabulary a rubric may test, and the filter that tests it.

A typo in a label ("frustated") would otherwise make a criterion silently never
match, so every label a rubric names is checked against this vocabulary at load
time.  The vocabularies are the classifier heads' own (``qm.nlp.heads``): a
label the classifier never emits would make a criterion silently inert.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qm.nlp.heads import EMOTION_LABELS
from qm.types import Utterance

SENTIMENTS = ("negative", "neutral", "positive")
QUESTIONS = ("open", "closed", "none")
EMOTIONS: frozenset[str] = frozenset(EMOTION_LABELS)

SentimentValue = Literal["negative", "neutral", "positive"]
QuestionValue = Literal["open", "closed", "none"]


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str | bool) else v


class LabelFilter(BaseModel):
    """Labels an utterance must all have (AND); a list value means any of those values (OR).

    ``question: none`` matches utterances that are not questions.  ``min_words`` keeps one- and
    two-word fillers ("Great.", "Okay then.") from counting as, say, an empathetic response.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentiment: list[SentimentValue] | None = None
    emotion: list[str] | None = None
    empathy: bool | None = None
    question: list[QuestionValue] | None = None
    min_words: int | None = Field(default=None, ge=1)

    @field_validator("sentiment", "question", "emotion", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return _as_list(v)

    @field_validator("emotion")
    @classmethod
    def _known_emotions(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        unknown = [e for e in v if e not in EMOTIONS]
        if unknown:
            raise ValueError(f"unknown emotion label {', '.join(repr(e) for e in unknown)}; "
                             f"known labels: {', '.join(sorted(EMOTIONS))}")
        return v

    def matches(self, u: Utterance) -> bool:
        labels = u.labels
        if labels is None:
            return False
        if self.min_words is not None and u.word_count < self.min_words:
            return False
        if self.sentiment is not None and labels.sentiment.label not in self.sentiment:
            return False
        if self.emotion is not None and labels.emotion not in self.emotion:
            return False
        if self.empathy is not None and labels.empathy.label != self.empathy:
            return False
        if self.question is not None and (labels.question or "none") not in self.question:
            return False
        return True

    def describe(self) -> str:
        parts = [f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else str(v).lower()}"
                 for k, v in self.model_dump(exclude_none=True).items()]
        return ", ".join(parts) or "any labelled utterance"


def matches_any(filters: list[LabelFilter], u: Utterance) -> bool:
    return any(f.matches(u) for f in filters)


def listify_filters(v: Any) -> Any:
    """Accept ``{sentiment: negative}`` as well as ``[{...}, {...}]`` for any-of filters."""
    return [v] if isinstance(v, dict) else v
