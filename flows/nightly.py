"""The nightly flow: discover, claim, score with bounded concurrency, post-steps, summary.

Run locally (``qm nightly --inbox DIR``) it scores in this process with ``concurrency`` threads.
Deployed with ``fan_out=N`` it registers the batch, then starts N runs of the ``qm-score-pending``
deployment, which Prefect hands to whichever workers of the pool are free (one per machine, or
more); each drains the batch's claims, so calls spread dynamically and none is scored twice.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from flows.poststeps import POST_SCORING_STEPS, BatchResult
from flows.progress import notify
from flows.score import ClaimOptions, _record, process_claim
from flows.sources import DEFAULT_PATTERN, Discovery, Inbox, Recording, Rejected
from flows.summary import publish, summarise
from qm.store.claims import DONE, FAILED, ClaimStore, NewClaim, worker_id

log = logging.getLogger("qm.flows.nightly")

SCORE_PENDING_DEPLOYMENT = "qm-score-pending/qm-score-pending"


@task(name="discover", cache_policy=NO_CACHE)
def discover(inbox: Inbox, since: datetime | None) -> Discovery:
    return inbox.discover(since)


@task(name="register-claims", cache_policy=NO_CACHE)
def register(inbox: Inbox, found: Discovery, batch: str) -> tuple[list[Recording], list[Rejected], int]:
    """Hash new files, drop those already finished, reject call-id clashes, and insert pending claims."""
    claims = ClaimStore(_db_url())
    known = claims.known(r.uri for r in found.recordings)
    fresh: list[Recording] = []
    rejected: list[Rejected] = []
    already = 0
    for rec in found.recordings:
        rows = known.get(rec.uri, [])
        # Same name, size and mtime as a finished claim: the same bytes; skip without re-reading them.
        if any(r.size == rec.size and r.mtime == rec.mtime and r.status in (DONE, FAILED) for r in rows):
            already += 1
            continue
        try:
            rec.sha256 = inbox.sha256(rec.uri)
        except OSError as exc:
            rejected.append(Rejected(rec.uri, f"unreadable: {exc}", rec.meta.call_id))
            continue
        if any(r.audio_sha256 == rec.sha256 and r.status in (DONE, FAILED) for r in rows):
            already += 1
            continue
        fresh.append(rec)
    fresh, clashes = _call_id_clashes(fresh)
    rejected += clashes
    claims.register([NewClaim(r.uri, r.sha256 or "", r.size, r.mtime, r.meta.call_id,
                              {**r.meta.to_json(), "source_uri": r.uri}) for r in fresh], batch)
    return fresh, rejected, already


def _call_id_clashes(recs: list[Recording]) -> tuple[list[Recording], list[Rejected]]:
    """A call id already stored (or earlier in this batch) with different audio is refused before scoring."""
    from sqlalchemy import select

    from qm.store import open_store
    from qm.store.db import session_scope
    from qm.store.models import Call

    ids = [r.meta.call_id for r in recs if r.meta.call_id]
    stored: dict[str, str] = {}
    if ids:
        with session_scope(open_store(_db_url()).engine) as s:
            stored = dict(s.execute(select(Call.id, Call.audio_sha256).where(Call.id.in_(ids))).all())
    ok: list[Recording] = []
    bad: list[Rejected] = []
    seen: dict[str, Recording] = {}
    for r in recs:
        cid = r.meta.call_id
        if cid and cid in stored and stored[cid] != r.sha256:
            bad.append(Rejected(r.uri, f"call id {cid!r} is already stored with different audio "
                                       f"(sha256 {stored[cid][:12]}…, this file {(r.sha256 or '')[:12]}…)",
                                cid))
        elif cid and cid in seen and seen[cid].sha256 != r.sha256:
            bad.append(Rejected(r.uri, f"call id {cid!r} appears twice in this batch with different audio "
                                       f"(first: {seen[cid].uri})", cid))
        else:
            if cid:
                seen.setdefault(cid, r)
            ok.append(r)
    return ok, bad


@task(name="quarantine", cache_policy=NO_CACHE)
def quarantine(inbox: Inbox, rejected: list[Rejected]) -> list[dict[str, Any]]:
    out = []
    for r in rejected:
        _record(r.uri, "discover", r.reason, r.call_id)
        where = None
        try:
            where = inbox.quarantine(r.uri, r.reason, present=r.present)
        except Exception as exc:
            log.warning("could not quarantine %s: %s", r.uri, exc)
        out.append({**asdict(r), "status": "failed", "quarantined": where})
    return out


@flow(name="qm-score-pending", log_prints=False)
def score_pending(inbox: str, batch: str | None = None, manifest: str | None = None, concurrency: int = 2,
                  lease_s: float = 120.0, max_attempts: int = 3,
                  rubric: str | None = None) -> list[dict[str, Any]]:
    """Drain claimable calls (of one batch, or all): what a pool worker runs; safe to run N times at once."""
    claims = ClaimStore(_db_url())
    rows = claims.claimable(batch)
    random.Random(worker_id()).shuffle(rows)  # parallel drainers start at different calls: fewer collisions
    notify("total", str(len(rows)))
    opts = ClaimOptions(inbox=inbox, manifest=manifest, lease_s=lease_s, max_attempts=max_attempts,
                        rubric=rubric)
    if rows:
        from flows.score import get_pipeline

        get_pipeline()  # load models once, before the threads start
    # Submit at most `concurrency` at a time: a task claims its call when it starts, so submitting all
    # at once would let the first drainer of a fan-out claim the whole batch before the others start.
    futures: list[Any] = []
    inflight: list[Any] = []
    for row in rows:
        while len(inflight) >= max(1, concurrency):
            done, _ = wait(inflight, timeout=1.0)
            inflight = [f for f in inflight if f not in done]
        fut = process_claim.with_options(task_run_name=f"call-{row.id}").submit(row, opts)
        futures.append(fut)
        inflight.append(fut)
    return [_outcome(f, row) for f, row in zip(futures, rows, strict=True)]


def _outcome(future: Any, row: Any) -> dict[str, Any]:
    """process_claim handles every per-call error; anything escaping it (e.g. the database down for
    longer than the claim retries) must not sink the batch: the lease expires and a later run retries."""
    try:
        return future.result()
    except Exception as exc:
        log.warning("call %s: %s", row.source_uri, exc)
        return {"uri": row.source_uri, "status": "released", "call_id": row.call_id,
                "reason": f"{type(exc).__name__}: {exc} (re-claimable after the lease)", "timings": {},
                "duration_s": 0.0, "score": None, "agent_id": None, "quarantined": None}


@task(name="post-scoring", cache_policy=NO_CACHE)
def run_post_steps(result: BatchResult) -> list[str]:
    ran = []
    for name, step in POST_SCORING_STEPS.items():
        get_run_logger().info("post-scoring step %s", name)
        step(result)
        ran.append(name)
    return ran


@flow(name="qm-nightly", log_prints=False)
def nightly(source: str, since: datetime | None = None, concurrency: int = 2, manifest: str | None = None,
            pattern: str | None = DEFAULT_PATTERN, stable_wait_s: float = 2.0, lease_s: float = 120.0,
            max_attempts: int = 3, rubric: str | None = None, fan_out: int = 0) -> dict[str, Any]:
    """Score every new recording in ``source`` once; returns (and publishes) the batch summary."""
    t0 = time.perf_counter()
    batch = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    inbox = Inbox(source, manifest=manifest, pattern=pattern, stable_wait_s=stable_wait_s)
    found = discover(inbox, since)
    _fresh, clashes, already = register(inbox, found, batch)
    rejected = quarantine(inbox, found.rejected + clashes)
    if fan_out > 0:
        outcomes = _fan_out(source, batch, manifest, concurrency, lease_s, max_attempts, rubric, fan_out)
    else:
        runner = ThreadPoolTaskRunner(max_workers=max(1, concurrency))
        outcomes = score_pending.with_options(task_runner=runner)(
            inbox=source, batch=batch, manifest=manifest, concurrency=concurrency, lease_s=lease_s,
            max_attempts=max_attempts, rubric=rubric)
    scored = [o for o in outcomes if o["status"] in ("scored", "lost-lease")]
    failed = [o for o in outcomes if o["status"] == "failed"] + rejected
    ran = run_post_steps(BatchResult(batch, scored, failed))
    summary = summarise(outcomes, rejected, found.still_writing, already, time.perf_counter() - t0, ran)
    summary["batch"] = batch
    publish(summary, key="qm-nightly", title=f"qm nightly {batch}")
    return summary


def _fan_out(source: str, batch: str, manifest: str | None, concurrency: int, lease_s: float,
             max_attempts: int, rubric: str | None, n: int) -> list[dict[str, Any]]:
    """Hand the batch to N pool workers via the score-pending deployment and wait for all of them."""
    from prefect.deployments import run_deployment

    params = {"inbox": source, "batch": batch, "manifest": manifest, "concurrency": concurrency,
              "lease_s": lease_s, "max_attempts": max_attempts, "rubric": rubric}
    runs = [run_deployment(SCORE_PENDING_DEPLOYMENT, parameters=params, timeout=0, as_subflow=True)
            for _ in range(n)]
    _wait(runs)
    return _outcomes_from_claims(batch)


def _wait(runs: list[Any]) -> None:
    from prefect import get_client

    pending = {r.id for r in runs}
    with get_client(sync_client=True) as client:
        while pending:
            for rid in list(pending):
                if client.read_flow_run(rid).state.is_final():
                    pending.discard(rid)
            time.sleep(2)


def _outcomes_from_claims(batch: str) -> list[dict[str, Any]]:
    """Fan-out children ran elsewhere: rebuild outcomes from the claims they wrote (no per-stage times)."""
    status_map = {"done": "scored", "failed": "failed", "pending": "released", "claimed": "released"}
    out = []
    for c in ClaimStore(_db_url()).rows(batch):
        out.append({"uri": c.source_uri, "status": status_map[c.status], "call_id": c.call_id,
                    "reason": c.error, "duration_s": c.duration_s or 0.0, "timings": {}, "score": None,
                    "agent_id": c.metadata.get("agent_id"), "quarantined": None})
    return out


def _db_url() -> str:
    from qm.config import get_settings

    return get_settings().resolved_database_url
