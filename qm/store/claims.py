"""Work claims: each recording is scored by exactly one worker, and a crashed worker's call comes back.

Prefect spreads flow runs over workers; it does not know that two nightly runs (or two fan-out
runs of one nightly) found the same file.  A row here per (source uri, audio sha256) settles that:
a worker wins a call with one conditional UPDATE (atomic on PostgreSQL and SQLite), holds it with a
lease that a heartbeat extends while it scores, and marks it done or failed.  If the worker dies
(SIGKILL, lost machine) the heartbeat stops, the lease runs out and any worker may claim it again.
Every write is fenced by ``claimed_by``, so a worker that lost its lease cannot mark the call done.

Lease times use the workers' clocks (UTC): keep them NTP-synchronised and the lease far longer
than any skew.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from qm.store.db import get_engine, session_scope
from qm.store.models import Base, utcnow

PENDING, CLAIMED, DONE, FAILED = "pending", "claimed", "done", "failed"
STATUSES = (PENDING, CLAIMED, DONE, FAILED)


class Claim(Base):
    """One recording found in a source, and who (if anyone) is scoring it."""

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("source_uri", "audio_sha256", name="uq_claim_source"),
        Index("ix_claims_status_lease", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_uri: Mapped[str] = mapped_column(String(1024))
    audio_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # bytes; recordings over 2 GiB exist
    mtime: Mapped[float] = mapped_column(Float)  # with size: lets discovery skip re-hashing known files
    batch: Mapped[str | None] = mapped_column(String(64), index=True)
    call_id: Mapped[str | None] = mapped_column(String(128))
    call_metadata: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    claimed_by: Mapped[str | None] = mapped_column(String(256))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A detached, plain view of a claim (safe to pass between threads and into Prefect tasks)."""

    id: int
    source_uri: str
    audio_sha256: str
    size: int
    mtime: float
    batch: str | None
    call_id: str | None
    metadata: dict[str, Any]
    status: str
    claimed_by: str | None
    lease_until: datetime | None
    attempts: int
    error: str | None
    duration_s: float | None

    @classmethod
    def of(cls, c: Claim) -> ClaimRow:
        return cls(c.id, c.source_uri, c.audio_sha256, c.size, c.mtime, c.batch, c.call_id,
                   dict(c.call_metadata or {}), c.status, c.claimed_by, _aware(c.lease_until), c.attempts,
                   c.error, c.duration_s)


@dataclass(frozen=True, slots=True)
class NewClaim:
    """A recording discovery found, before anyone claims it."""

    source_uri: str
    audio_sha256: str
    size: int
    mtime: float
    call_id: str | None = None
    metadata: dict[str, Any] | None = None


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time here is UTC."""
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt


def worker_id() -> str:
    """Unique per process and per call: host, pid and a random suffix (pids are reused after a crash)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimStore:
    """The claims table; one instance per process is enough (it holds only an engine)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = get_engine(url)

    # -- discovery side -------------------------------------------------------------------------
    def known(self, source_uris: Iterable[str]) -> dict[str, list[ClaimRow]]:
        """Existing claims per source uri (a file may have several: its audio changed under the same name)."""
        uris = list(source_uris)
        out: dict[str, list[ClaimRow]] = {}
        with session_scope(self.engine) as s:
            for i in range(0, len(uris), 500):
                for c in s.scalars(select(Claim).where(Claim.source_uri.in_(uris[i:i + 500]))):
                    out.setdefault(c.source_uri, []).append(ClaimRow.of(c))
        return out

    def register(self, items: Sequence[NewClaim], batch: str) -> list[ClaimRow]:
        """Insert claims that do not exist yet (status pending); returns every row for ``items``.

        Concurrent registrations of the same file are harmless: the unique key keeps one row and the
        loser re-reads it.  Unfinished rows left by an earlier batch are adopted by this one.
        """
        rows: list[ClaimRow] = []
        for it in items:
            with session_scope(self.engine) as s:
                c = s.scalars(select(Claim).where(Claim.source_uri == it.source_uri,
                                                  Claim.audio_sha256 == it.audio_sha256)).first()
                if c is None:
                    s.execute(self._insert_ignore(s, it, batch))
                    c = s.scalars(select(Claim).where(Claim.source_uri == it.source_uri,
                                                      Claim.audio_sha256 == it.audio_sha256)).one()
                elif c.status in (PENDING, CLAIMED) and c.batch != batch:
                    # Adopt unfinished work (released, or held by a worker that may have died): the
                    # batch is only a label; the claim conditions still decide who scores it.
                    c.batch = batch
                s.flush()
                rows.append(ClaimRow.of(c))
        return rows

    def _insert_ignore(self, s: Any, it: NewClaim, batch: str) -> Any:
        values = dict(source_uri=it.source_uri, audio_sha256=it.audio_sha256, size=it.size, mtime=it.mtime,
                      batch=batch, call_id=it.call_id, call_metadata=dict(it.metadata or {}), status=PENDING,
                      attempts=0, created_at=utcnow(), updated_at=utcnow())
        dialect = s.bind.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - qm supports SQLite and PostgreSQL
            raise NotImplementedError(f"claims need SQLite or PostgreSQL, not {dialect}")
        return insert(Claim).values(**values).on_conflict_do_nothing(
            index_elements=["source_uri", "audio_sha256"])

    # -- worker side -------------------------------------------------------------------------------
    def claimable(self, batch: str | None = None, limit: int = 10_000) -> list[ClaimRow]:
        """Calls a worker may try to win now: pending, or claimed under a lease that ran out."""
        now = utcnow()
        with session_scope(self.engine) as s:
            q = select(Claim).where(or_(Claim.status == PENDING,
                                        and_(Claim.status == CLAIMED, Claim.lease_until < now)))
            if batch is not None:
                q = q.where(Claim.batch == batch)
            return [ClaimRow.of(c) for c in s.scalars(q.order_by(Claim.id).limit(limit))]

    def try_claim(self, claim_id: int, worker: str, lease_s: float) -> ClaimRow | None:
        """Win one call, or None if another worker holds it (or it is finished).  Atomic."""
        now = utcnow()
        with session_scope(self.engine) as s:
            res = s.execute(
                update(Claim)
                .where(Claim.id == claim_id,
                       or_(Claim.status == PENDING, and_(Claim.status == CLAIMED, Claim.lease_until < now)))
                .values(status=CLAIMED, claimed_by=worker, lease_until=now + timedelta(seconds=lease_s),
                        attempts=Claim.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if res.rowcount != 1:
                return None
            c = s.get(Claim, claim_id)
            assert c is not None
            return ClaimRow.of(c)

    def renew(self, claim_id: int, worker: str, lease_s: float) -> bool:
        """Extend the lease; False means the lease was lost (expired and taken by another worker)."""
        now = utcnow()
        return self._fenced(claim_id, worker, lease_until=now + timedelta(seconds=lease_s), updated_at=now)

    def complete(self, claim_id: int, worker: str, call_id: str, duration_s: float) -> bool:
        return self._fenced(claim_id, worker, status=DONE, lease_until=None, call_id=call_id,
                            duration_s=duration_s, error=None, updated_at=utcnow())

    def fail(self, claim_id: int, worker: str, reason: str) -> bool:
        """Finished as failed: never claimed again for these bytes (a changed file gets a new claim)."""
        return self._fenced(claim_id, worker, status=FAILED, lease_until=None, error=reason[:4000],
                            updated_at=utcnow())

    def release(self, claim_id: int, worker: str, reason: str | None = None) -> bool:
        """Give the call back (e.g. a transient error outlived its retries): the next run tries again."""
        return self._fenced(claim_id, worker, status=PENDING, claimed_by=None, lease_until=None,
                            error=reason[:4000] if reason else None, updated_at=utcnow())

    def _fenced(self, claim_id: int, worker: str, **values: Any) -> bool:
        with session_scope(self.engine) as s:
            res = s.execute(update(Claim).where(Claim.id == claim_id, Claim.claimed_by == worker,
                                                Claim.status == CLAIMED)
                            .values(**values).execution_options(synchronize_session=False))
            return res.rowcount == 1

    # -- reporting -----------------------------------------------------------------------------------
    def get(self, claim_id: int) -> ClaimRow | None:
        with session_scope(self.engine) as s:
            c = s.get(Claim, claim_id)
            return ClaimRow.of(c) if c else None

    def rows(self, batch: str | None = None) -> list[ClaimRow]:
        with session_scope(self.engine) as s:
            q = select(Claim).order_by(Claim.id)
            if batch is not None:
                q = q.where(Claim.batch == batch)
            return [ClaimRow.of(c) for c in s.scalars(q)]

    def counts(self, batch: str | None = None) -> dict[str, int]:
        with session_scope(self.engine) as s:
            q = select(Claim.status, func.count()).group_by(Claim.status)
            if batch is not None:
                q = q.where(Claim.batch == batch)
            got = {status: int(n) for status, n in s.execute(q)}
        return {st: got.get(st, 0) for st in STATUSES}
