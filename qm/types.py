"""Typed records that flow between the pipeline stages.

Every stage takes and returns these plain dataclasses so that each one can be
tested alone and so the stored/printed result (see ``CallResult.to_contract``)
has exactly one definition.  Times are seconds from the start of the recording.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Speaker = Literal["agent", "customer", "unknown"]
SentimentLabel = Literal["negative", "neutral", "positive"]
QuestionType = Literal["open", "closed"] | None
# the PII types qm redacts, each replaced by its tag ("[CARD]"); qm.nlp.redaction detects them
PII_TYPES = ("CARD", "CVV", "EXPIRY", "ACCOUNT", "SORT_CODE", "NATIONAL_ID", "PHONE", "EMAIL", "NAME", "DOB",
             "ADDRESS")

SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its timing; ``text`` keeps Whisper's leading space and punctuation."""

    start: float
    end: float
    text: str
    probability: float
    speaker: Speaker = "unknown"
    channel: int = 0


@dataclass(slots=True)
class Turn:
    """Consecutive words of one speaker, bounded by a speaker change or a long pause."""

    speaker: Speaker
    words: list[Word]

    @property
    def start(self) -> float:
        return self.words[0].start if self.words else 0.0

    @property
    def end(self) -> float:
        return self.words[-1].end if self.words else 0.0

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: SentimentLabel
    score: float  # signed, in [-1, 1]


@dataclass(frozen=True, slots=True)
class Empathy:
    label: bool
    score: float  # probability in [0, 1]


@dataclass(frozen=True, slots=True)
class UtteranceLabels:
    """What the NLP stage says about one utterance."""

    sentiment: Sentiment
    emotion: str | None
    empathy: Empathy
    question: QuestionType


@dataclass(slots=True)
class Utterance:
    """A sentence-level unit of one speaker; ``text`` is always the redacted text."""

    index: int
    speaker: Speaker
    start: float
    end: float
    text: str
    turn: int
    word_count: int
    labels: UtteranceLabels | None = None

    def to_contract(self) -> dict[str, Any]:
        if self.labels is None:
            raise ValueError(f"utterance {self.index} has not been labelled")
        lab = self.labels
        return {
            "index": self.index,
            "speaker": self.speaker,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "sentiment": {"label": lab.sentiment.label, "score": round(lab.sentiment.score, 4)},
            "emotion": lab.emotion,
            "empathy": {"label": lab.empathy.label, "score": round(lab.empathy.score, 4)},
            "question": lab.question,
        }


@dataclass(frozen=True, slots=True)
class AudioInfo:
    path: str
    duration_s: float
    channels: int
    sample_rate: int
    sha256: str
    codec: str
    container: str


@dataclass(frozen=True, slots=True)
class Metrics:
    agent_talk_ratio: float
    silence_ratio: float
    longest_silence_s: float
    overtalk_s: float
    agent_words_per_minute: float
    customer_sentiment_start: SentimentLabel | None
    customer_sentiment_end: SentimentLabel | None
    interruptions: int = 0
    customer_talk_ratio: float = 0.0
    hold_s: float = 0.0  # non-speech sound (music, announcements) between speech: a hold, not dead air
    longest_hold_s: float = 0.0

    def to_contract(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 4)
        return d


@dataclass(frozen=True, slots=True)
class CriterionResult:
    id: str
    name: str
    passed: bool | None  # None: not applicable to this call
    score: float
    max_score: float
    auto_fail: bool  # failed and marked auto-fail in the rubric
    evidence: list[int]
    skill: str | None = None
    detail: str = ""

    def to_contract(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "passed": self.passed,
            "score": round(self.score, 4),
            "max_score": round(self.max_score, 4),
            "auto_fail": self.auto_fail,
            "evidence": list(self.evidence),
            "skill": self.skill,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class CoachingItem:
    skill: str
    reason: str
    resources: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class CallResult:
    call_id: str
    agent_id: str | None
    audio: AudioInfo
    asr_model: str
    language: str
    utterances: list[Utterance]
    metrics: Metrics
    rubric_id: str
    rubric_version: str
    criteria: list[CriterionResult]
    score: float
    auto_failed: bool
    coaching: list[CoachingItem]
    redactions: int

    def to_contract(self) -> dict[str, Any]:
        """The public JSON document (shared/contract/call-result.schema.json)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "audio": {
                "duration_s": round(self.audio.duration_s, 3),
                "channels": self.audio.channels,
                "sample_rate": self.audio.sample_rate,
                "sha256": self.audio.sha256,
            },
            "asr": {"model": self.asr_model, "language": self.language},
            "utterances": [u.to_contract() for u in self.utterances],
            "metrics": self.metrics.to_contract(),
            "rubric": {"id": self.rubric_id, "version": self.rubric_version},
            "criteria": [c.to_contract() for c in self.criteria],
            "score": round(self.score, 2),
            "auto_failed": self.auto_failed,
            "coaching": [
                {"skill": c.skill, "reason": c.reason, "resources": list(c.resources)} for c in self.coaching
            ],
            "redactions": self.redactions,
        }
