"""Reading and writing scored calls.  Each write is one transaction: a call is stored whole or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from qm.errors import StoreError
from qm.store.db import get_engine, session_scope
from qm.store.models import Agent, Call, CriterionRow, Failure, Result, Transcript, UtteranceRow
from qm.types import CallResult


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    agent_id: str | None
    duration_s: float
    score: float | None
    auto_failed: bool | None
    rubric_id: str | None
    scored_at: datetime | None


@dataclass(frozen=True)
class StoredCall:
    """What scoring a stored call again needs: where its recording is and how it was scored."""

    call_id: str
    agent_id: str | None
    source_uri: str
    channel_layout: str
    metadata: dict[str, Any]
    started_at: datetime | None


class Store:
    """The project's only door to the database; the CLI, flows and web app all go through it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = get_engine(url)

    # -- transcripts -----------------------------------------------------------------------------
    def get_transcript(self, sha256: str, asr_model: str, layout: str,
                       redaction: str | None = None) -> tuple[str, list, list | None] | None:
        """(language, tokens, sound) of a cached transcript; sound is None if stored before it was kept.

        With ``redaction``, a transcript redacted another way (an older redactor, other types) is not
        returned: the caller transcribes again and ``save`` replaces its tokens.
        """
        with session_scope(self.engine) as s:
            row = s.scalars(
                select(Transcript).where(
                    Transcript.audio_sha256 == sha256, Transcript.asr_model == asr_model,
                    Transcript.channel_layout == layout,
                )
            ).first()
            if row is None or (redaction is not None and row.redaction != redaction):
                return None
            return row.language, row.tokens, row.sound

    def calls_redacted_otherwise(self, redaction: str) -> list[StoredCall]:
        """Calls whose stored transcript carries another redaction than ``redaction`` (older redactor,
        other types, or stored before transcripts recorded it), oldest first."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(Call).join(Transcript, (Transcript.audio_sha256 == Call.audio_sha256)
                                  & (Transcript.channel_layout == Call.channel_layout))
                .where((Transcript.redaction.is_(None)) | (Transcript.redaction != redaction))
                .order_by(Call.created_at, Call.id)
            ).scalars().unique()
            return [StoredCall(c.id, c.agent_id, c.source_uri, c.channel_layout, dict(c.call_metadata or {}),
                               c.started_at) for c in rows]

    def find_transcript_for_call(self, call_id: str) -> tuple[Call, Transcript] | None:
        with session_scope(self.engine) as s:
            call = s.get(Call, call_id)
            if call is None:
                return None
            row = s.scalars(
                select(Transcript)
                .where(Transcript.audio_sha256 == call.audio_sha256,
                       Transcript.channel_layout == call.channel_layout)
                .order_by(Transcript.created_at.desc())
            ).first()
            return (call, row) if row else None

    # -- calls and results -----------------------------------------------------------------------
    def save(
        self,
        result: CallResult,
        *,
        layout: str,
        source_uri: str,
        transcript_tokens: list,
        nlp_version: str,
        sound: list | None = None,
        redacted_audio_path: str | None = None,
        metadata: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        redaction: str | None = None,
    ) -> None:
        """Store one scored call; re-storing the same call, audio and rubric version updates in place.

        ``redaction``: the key of the redaction ``transcript_tokens`` carry (left as stored when None).
        """
        for attempt in range(2):
            try:
                self._save_once(result, layout, source_uri, transcript_tokens, nlp_version, sound,
                                redacted_audio_path, metadata or {}, started_at, redaction)
                return
            except IntegrityError:
                if attempt:  # a concurrent writer inserted the same keys; the second try updates
                    raise

    def _save_once(self, result: CallResult, layout: str, source_uri: str, tokens: list, nlp_version: str,
                   sound: list | None, redacted_audio_path: str | None, metadata: dict[str, Any],
                   started_at: datetime | None, redaction: str | None) -> None:
        doc = result.to_contract()
        with session_scope(self.engine) as s:
            if result.agent_id and s.get(Agent, result.agent_id) is None:
                s.add(Agent(id=result.agent_id))
                s.flush()
            call = s.get(Call, result.call_id)
            if call is not None and call.audio_sha256 != result.audio.sha256:
                raise StoreError(
                    f"call id {result.call_id!r} already holds different audio "
                    f"(sha256 {call.audio_sha256[:12]}…, now {result.audio.sha256[:12]}…); "
                    "use another --call-id"
                )
            if call is None:
                call = Call(id=result.call_id)
                s.add(call)
            call.agent_id = result.agent_id
            call.audio_sha256 = result.audio.sha256
            call.duration_s = result.audio.duration_s
            call.channels = result.audio.channels
            call.sample_rate = result.audio.sample_rate
            call.codec = result.audio.codec
            call.channel_layout = layout
            call.source_uri = source_uri
            call.redacted_audio_path = redacted_audio_path
            call.call_metadata = metadata
            call.started_at = started_at
            s.flush()

            tr = s.scalars(select(Transcript).where(
                Transcript.audio_sha256 == result.audio.sha256, Transcript.asr_model == result.asr_model,
                Transcript.channel_layout == layout)).first()
            if tr is None:
                s.add(Transcript(audio_sha256=result.audio.sha256, asr_model=result.asr_model,
                                 channel_layout=layout, language=result.language, tokens=tokens,
                                 sound=sound, redaction=redaction))
            else:
                tr.tokens = tokens
                tr.language = result.language
                if sound is not None:
                    tr.sound = sound
                if redaction is not None:
                    tr.redaction = redaction

            s.execute(delete(UtteranceRow).where(UtteranceRow.call_id == result.call_id))
            for u in result.utterances:
                lab = u.labels
                assert lab is not None
                s.add(UtteranceRow(
                    call_id=result.call_id, idx=u.index, speaker=u.speaker, start=u.start, end=u.end,
                    text=u.text, sentiment_label=lab.sentiment.label, sentiment_score=lab.sentiment.score,
                    emotion=lab.emotion, empathy=lab.empathy.label, empathy_score=lab.empathy.score,
                    question=lab.question,
                ))

            row = s.scalars(select(Result).where(
                Result.call_id == result.call_id, Result.rubric_id == result.rubric_id,
                Result.rubric_version == result.rubric_version)).first()
            if row is None:
                row = Result(call_id=result.call_id, rubric_id=result.rubric_id,
                             rubric_version=result.rubric_version)
                s.add(row)
            row.agent_id = result.agent_id
            row.asr_model = result.asr_model
            row.nlp_version = nlp_version
            row.score = result.score
            row.auto_failed = result.auto_failed
            row.redactions = result.redactions
            row.metrics = doc["metrics"]
            row.document = doc
            s.flush()
            s.execute(delete(CriterionRow).where(CriterionRow.result_id == row.id))
            for pos, c in enumerate(result.criteria):
                s.add(CriterionRow(
                    result_id=row.id, agent_id=result.agent_id, position=pos, criterion_id=c.id,
                    skill=c.skill, passed=c.passed, score=c.score, max_score=c.max_score,
                    auto_fail=c.auto_fail, evidence=list(c.evidence),
                ))

    def get_result(self, call_id: str, rubric_id: str | None = None) -> dict | None:
        """The newest stored contract document of a call (optionally for one rubric)."""
        with session_scope(self.engine) as s:
            q = select(Result).where(Result.call_id == call_id)
            if rubric_id:
                q = q.where(Result.rubric_id == rubric_id)
            row = s.scalars(q.order_by(Result.scored_at.desc(), Result.id.desc())).first()
            return dict(row.document) if row else None

    def results(self, call_ids: Sequence[str] | None = None) -> dict[str, dict]:
        """Newest document per call, for calibration and reports."""
        out: dict[str, dict] = {}
        with session_scope(self.engine) as s:
            q = select(Result).order_by(Result.scored_at, Result.id)
            if call_ids is not None:
                q = q.where(Result.call_id.in_(list(call_ids)))
            for row in s.scalars(q):
                out[row.call_id] = dict(row.document)
        return out

    def list_calls(self, agent_id: str | None = None, limit: int = 100) -> list[CallSummary]:
        with session_scope(self.engine) as s:
            q = select(Call).order_by(Call.created_at.desc(), Call.id).limit(limit)
            if agent_id:
                q = q.where(Call.agent_id == agent_id)
            out = []
            for call in s.scalars(q):
                res = max(call.results, key=lambda r: (r.scored_at, r.id), default=None)
                out.append(CallSummary(
                    call.id, call.agent_id, call.duration_s, res.score if res else None,
                    res.auto_failed if res else None, res.rubric_id if res else None,
                    res.scored_at if res else None,
                ))
            return out

    def count(self, model: type) -> int:
        from sqlalchemy import func

        with session_scope(self.engine) as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    # -- failures --------------------------------------------------------------------------------
    def record_failure(self, source_uri: str, stage: str, reason: str, call_id: str | None = None) -> None:
        with session_scope(self.engine) as s:
            s.add(Failure(source_uri=source_uri, call_id=call_id, stage=stage, reason=reason))

    def failures(self, limit: int = 100) -> list[dict[str, Any]]:
        with session_scope(self.engine) as s:
            rows = s.scalars(select(Failure).order_by(Failure.created_at.desc()).limit(limit))
            return [{"source": r.source_uri, "call_id": r.call_id, "stage": r.stage, "reason": r.reason,
                     "at": r.created_at.isoformat()} for r in rows]
