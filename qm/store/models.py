"""Relational schema: agents, calls, cached transcripts, utterances, results and failures.

Designed for what comes next as well as what exists: per-agent aggregates read
``criterion_results`` (one row per criterion per result, indexed by agent and skill),
re-scoring with a new rubric reads ``transcripts`` (keyed by audio hash and ASR model),
and supervisor overrides will reference ``criterion_results`` rows.
Stored text is always redacted text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"), index=True)
    audio_sha256: Mapped[str] = mapped_column(String(64), index=True)
    duration_s: Mapped[float] = mapped_column(Float)
    channels: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(64))
    channel_layout: Mapped[str] = mapped_column(String(64))
    source_uri: Mapped[str] = mapped_column(Text)
    redacted_audio_path: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    call_metadata: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    utterances: Mapped[list[UtteranceRow]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="UtteranceRow.idx"
    )
    results: Mapped[list[Result]] = relationship(back_populates="call", cascade="all, delete-orphan")


class Transcript(Base):
    """Redacted, time-aligned tokens of one recording by one ASR model: lets a re-score skip Whisper."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("audio_sha256", "asr_model", "channel_layout", name="uq_transcript"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    audio_sha256: Mapped[str] = mapped_column(String(64))
    asr_model: Mapped[str] = mapped_column(String(256))
    channel_layout: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    # [{"speaker", "start", "end", "text", "redacted"}] per display token, and the turn boundaries
    tokens: Mapped[list] = mapped_column(JSON)
    # [[start, end], ...] sustained non-speech sound (qm.sound); NULL for transcripts stored before 0003
    sound: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # qm.nlp.redaction.redaction_key of the redaction the tokens carry; NULL for transcripts stored before 0004
    redaction: Mapped[str | None] = mapped_column(String(160), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UtteranceRow(Base):
    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("call_id", "idx", name="uq_utterance"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    sentiment_label: Mapped[str] = mapped_column(String(16))
    sentiment_score: Mapped[float] = mapped_column(Float)
    emotion: Mapped[str | None] = mapped_column(String(32))
    empathy: Mapped[bool] = mapped_column(Boolean)
    empathy_score: Mapped[float] = mapped_column(Float)
    question: Mapped[str | None] = mapped_column(String(16))

    call: Mapped[Call] = relationship(back_populates="utterances")


class Result(Base):
    """One scoring of a call with one rubric version; re-scoring the same version updates it in place."""

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("call_id", "rubric_id", "rubric_version", name="uq_result"),
        Index("ix_results_agent_scored", "agent_id", "scored_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    rubric_id: Mapped[str] = mapped_column(String(128))
    rubric_version: Mapped[str] = mapped_column(String(64))
    asr_model: Mapped[str] = mapped_column(String(256))
    nlp_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    auto_failed: Mapped[bool] = mapped_column(Boolean)
    redactions: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict] = mapped_column(JSON)
    document: Mapped[dict] = mapped_column(JSON)  # the full contract document, as printed by --json
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    call: Mapped[Call] = relationship(back_populates="results")
    criteria: Mapped[list[CriterionRow]] = relationship(
        back_populates="result", cascade="all, delete-orphan", order_by="CriterionRow.position"
    )


class CriterionRow(Base):
    __tablename__ = "criterion_results"
    __table_args__ = (
        UniqueConstraint("result_id", "criterion_id", name="uq_criterion"),
        Index("ix_criteria_agent_skill", "agent_id", "skill"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    criterion_id: Mapped[str] = mapped_column(String(128))
    skill: Mapped[str | None] = mapped_column(String(128))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    auto_fail: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[list] = mapped_column(JSON)

    result: Mapped[Result] = relationship(back_populates="criteria")


class Failure(Base):
    """A recording that could not be scored, with the reason; the batch went on without it."""

    __tablename__ = "failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_uri: Mapped[str] = mapped_column(Text, index=True)
    call_id: Mapped[str | None] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
