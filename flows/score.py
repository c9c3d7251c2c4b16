"""Scoring one call under Prefect: the same :class:`qm.pipeline.Pipeline` as ``qm score``, plus claims.

Retry policy follows :mod:`qm.errors`: an ``AudioError`` (bad recording) or ``StoreError`` (call id
already holding other audio) is the input's fault and is never retried: it is recorded, the file is
quarantined and the claim marked failed.  ``ModelError``/``ConfigError`` are the installation's
fault: recorded, not retried, the claim is released so the next run scores the call once fixed.
Anything else (database restart, I/O hiccup) may be transient: Prefect retries the task; if it
still fails the claim goes back to pending, and after ``max_attempts`` runs the file is quarantined
so one poisonous recording cannot fail every night forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.progress import notify
from flows.sources import CallMeta, Inbox
from qm.errors import AudioError, QMError, StoreError
from qm.pipeline import Pipeline
from qm.store.claims import ClaimRow, ClaimStore, worker_id

log = logging.getLogger("qm.flows.score")
T = TypeVar("T")

_PIPELINES: dict[str, Pipeline] = {}
_ASR_WARM: set[str] = set()
_LOCK = threading.Lock()


def get_pipeline(asr: bool = True) -> Pipeline:
    """One warmed pipeline per process and database: models load once, then every task shares them.

    ``asr=False`` (re-scoring from cached transcripts) skips loading Whisper.
    """
    from qm.config import get_settings

    settings = get_settings()
    key = settings.resolved_database_url
    with _LOCK:
        pipe = _PIPELINES.get(key)
        if pipe is None:
            pipe = Pipeline(settings)
            _warm(pipe)
            _PIPELINES[key] = pipe
        if asr and key not in _ASR_WARM:
            pipe.transcriber  # noqa: B018 - load Whisper before scoring threads race for it
            _ASR_WARM.add(key)
        return pipe


def _warm(pipe: Pipeline) -> None:
    """Load every text model before tasks run in parallel threads.

    Lazy loaders are not thread-safe (two threads racing through ``transformers``' lazy imports
    raise ImportError), so the first call in each process loads them all, in order, under a lock.
    """
    pipe.store  # noqa: B018 - opens and migrates the database
    import transformers

    transformers.AutoModel, transformers.AutoTokenizer  # noqa: B018 - settle the lazy module
    from qm.nlp.encoder import get_encoder, get_similarity_encoder
    from qm.nlp.labeller import get_labeller
    from qm.nlp.redaction import get_redactor
    from qm.rubric import load_rubric
    from qm.spacy_pipelines import entities, parser

    parser()
    entities()
    get_encoder()
    get_similarity_encoder()
    get_labeller()
    get_redactor()
    load_rubric(pipe.settings.default_rubric, pipe.settings.rubrics_dir)


def forget_pipelines() -> None:
    """Drop cached pipelines (tests switch databases between runs)."""
    with _LOCK:
        _PIPELINES.clear()
        _ASR_WARM.clear()


def is_transient(exc: BaseException) -> bool:
    """Only errors qm does not expect are worth a retry; every QMError names a cause a retry won't fix."""
    return not isinstance(exc, QMError)


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the failure was bad input or bad setup."""
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:
        return is_transient(exc)
    return True


@task(name="score-call", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_on_transient,
      cache_policy=NO_CACHE, log_prints=False)
def score_call(path: str, metadata: dict[str, Any], rubric: str | None = None,
               source_uri: str | None = None) -> dict[str, Any]:
    """Score one recording with the shared pipeline; ``metadata`` is a :class:`CallMeta` as JSON."""
    meta = CallMeta.from_json(metadata)
    stored = {k: v for k, v in {"queue": meta.queue, "direction": meta.direction, **meta.extra}.items()
              if v is not None}
    scored = get_pipeline().score(path, agent_id=meta.agent_id, call_id=meta.call_id, rubric=rubric,
                                  agent_channel=meta.agent_channel, metadata=stored,
                                  started_at=meta.started(), source_uri=source_uri)
    r = scored.result
    return {"call_id": r.call_id, "agent_id": r.agent_id, "score": r.score, "auto_failed": r.auto_failed,
            "duration_s": r.audio.duration_s, "timings": dict(scored.timings),
            "transcript_cached": scored.transcript_cached, "rubric": f"{r.rubric_id}@{r.rubric_version}"}


@dataclass
class Outcome:
    """What happened to one claimed recording; the summary is built from these."""

    uri: str
    status: str  # scored | failed | released | skipped | lost-lease
    call_id: str | None = None
    reason: str | None = None
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    quarantined: str | None = None
    agent_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Heartbeat:
    """Extends a claim's lease while the call is scored; dies with the process, so the lease runs out."""

    def __init__(self, claims: ClaimStore, claim_id: int, worker: str, lease_s: float) -> None:
        self.claims, self.claim_id, self.worker, self.lease_s = claims, claim_id, worker, lease_s
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                if not self.claims.renew(self.claim_id, self.worker, self.lease_s):
                    self.lost = True
                    log.warning("lease on claim %s was lost; another worker may re-score it", self.claim_id)
                    return
            except Exception as exc:  # database blip: the next beat tries again well within the lease
                log.warning("lease renewal for claim %s failed: %s", self.claim_id, exc)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class ClaimOptions:
    """How a worker treats claims; plain values so it crosses into Prefect tasks."""

    inbox: str
    manifest: str | None = None
    lease_s: float = 120.0
    max_attempts: int = 3
    rubric: str | None = None


@task(name="process-recording", cache_policy=NO_CACHE)
def process_claim(row: ClaimRow, opts: ClaimOptions) -> dict[str, Any]:
    """Win the claim, score under a lease, then mark done / failed / released; never raises for one call."""
    claims = ClaimStore(_db_url())
    worker = worker_id()
    won = db_retry(claims.try_claim, row.id, worker, opts.lease_s)
    if won is None:
        return Outcome(row.source_uri, "skipped", row.call_id, "claimed by another worker").to_json()
    inbox = Inbox(opts.inbox, manifest=opts.manifest, stable_wait_s=0)
    notify("start", won.source_uri)
    out = _score_claimed(claims, inbox, won, worker, opts)
    notify("end", won.source_uri, out.to_json())
    return out.to_json()


def _score_claimed(claims: ClaimStore, inbox: Inbox, won: ClaimRow, worker: str,
                   opts: ClaimOptions) -> Outcome:
    meta = won.metadata
    call_id = meta.get("call_id")
    with Heartbeat(claims, won.id, worker, opts.lease_s) as beat:
        try:
            with inbox.local_copy(won.source_uri) as path:
                res = score_call(path, meta, opts.rubric, won.source_uri)
        except (AudioError, StoreError) as exc:
            return _bad_input(claims, inbox, won, worker, str(exc), call_id)
        except QMError as exc:  # model or configuration: not the recording's fault, keep it for later
            _record(won.source_uri, "setup", str(exc), call_id)
            db_retry(claims.release, won.id, worker, str(exc))
            return Outcome(won.source_uri, "released", call_id, f"setup error: {exc}")
        except FileNotFoundError as exc:  # vanished between discovery and scoring
            return _bad_input(claims, inbox, won, worker, f"file disappeared: {exc}", call_id)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            _record(won.source_uri, "transient", reason, call_id)
            if won.attempts >= opts.max_attempts:
                return _bad_input(claims, inbox, won, worker,
                                  f"failed {won.attempts} runs in a row, last: {reason}", call_id)
            db_retry(claims.release, won.id, worker, reason)
            return Outcome(won.source_uri, "released", call_id, f"will retry next run: {reason}")
    if not db_retry(claims.complete, won.id, worker, res["call_id"], res["duration_s"]) or beat.lost:
        # Stored anyway (idempotent upsert by call id + rubric version): a re-score cannot duplicate it.
        return Outcome(won.source_uri, "lost-lease", res["call_id"], "lease expired while scoring",
                       res["duration_s"], res["timings"], res["score"], agent_id=res["agent_id"])
    return Outcome(won.source_uri, "scored", res["call_id"], None, res["duration_s"], res["timings"],
                   res["score"], agent_id=res["agent_id"])


def _bad_input(claims: ClaimStore, inbox: Inbox, won: ClaimRow, worker: str, reason: str,
               call_id: str | None) -> Outcome:
    _record(won.source_uri, "score", reason, call_id)
    db_retry(claims.fail, won.id, worker, reason)
    where = None
    try:
        where = inbox.quarantine(won.source_uri, reason)
    except Exception as exc:  # a read-only source: the failure is still recorded and reported
        log.warning("could not quarantine %s: %s", won.source_uri, exc)
    return Outcome(won.source_uri, "failed", call_id, reason, quarantined=where)


def db_retry(fn: Callable[..., T], *args: Any, tries: int = 4, delay_s: float = 1.0) -> T:
    """Claim writes are tiny and idempotent: ride out a database restart instead of failing the run."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(tries):
        try:
            return fn(*args)
        except DBAPIError as exc:
            if attempt == tries - 1:
                raise
            log.warning("claims: database error (%s); retrying", exc.__class__.__name__)
            time.sleep(min(8.0, delay_s * 2**attempt))
    raise AssertionError("unreachable")


def _record(uri: str, stage: str, reason: str, call_id: str | None) -> None:
    try:
        get_store().record_failure(uri, stage, reason, call_id)
    except Exception as exc:
        log.warning("could not record failure of %s (%s): %s", uri, reason, exc)


def get_store():  # type: ignore[no-untyped-def]
    from qm.store import open_store

    return open_store(_db_url())


def _db_url() -> str:
    from qm.config import get_settings

    return get_settings().resolved_database_url
