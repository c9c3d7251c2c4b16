"""Re-score stored calls with another rubric (version) from their cached transcripts: no Whisper.

Calls are selected by start time (or, when the recorder gave none, by when qm first stored them).
Re-scoring the same rubric version again updates results in place, so the flow is safe to repeat.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.progress import notify
from flows.score import get_pipeline, is_transient, retry_on_transient
from flows.summary import publish, summarise


@task(name="select-calls", cache_policy=NO_CACHE)
def select_calls(since: datetime | None) -> list[str]:
    from sqlalchemy import func, select

    from qm.store.db import session_scope
    from qm.store.models import Call

    store = get_pipeline(asr=False).store
    with session_scope(store.engine) as s:
        q = select(Call.id).order_by(Call.id)
        if since is not None:
            q = q.where(func.coalesce(Call.started_at, Call.created_at) >= since)
        return list(s.scalars(q))


@task(name="rescore-call", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_on_transient,
      cache_policy=NO_CACHE)
def rescore_call(call_id: str, rubric: str) -> dict[str, Any]:
    scored = get_pipeline(asr=False).rescore(call_id, rubric)
    r = scored.result
    return {"uri": call_id, "status": "scored", "call_id": r.call_id, "agent_id": r.agent_id,
            "score": r.score,
            "duration_s": r.audio.duration_s, "timings": dict(scored.timings), "reason": None}


@task(name="rescore-one", cache_policy=NO_CACHE)
def rescore_one(call_id: str, rubric: str) -> dict[str, Any]:
    """A failed call is reported, not fatal: the rest of the calls are still re-scored."""
    notify("start", call_id)
    try:
        out = rescore_call(call_id, rubric)
    except Exception as exc:
        kind = "transient" if is_transient(exc) else "rescore"
        out = {"uri": call_id, "status": "failed", "call_id": call_id, "reason": f"{kind}: {exc}",
               "timings": {}, "duration_s": 0.0}
    notify("end", call_id, out)
    return out


@flow(name="qm-rescore-batch", log_prints=False)
def rescore_batch(call_ids: list[str], rubric: str) -> list[dict[str, Any]]:
    futures = [rescore_one.with_options(task_run_name=f"rescore-{cid}").submit(cid, rubric)
               for cid in call_ids]
    return [f.result() for f in futures]


@flow(name="qm-rescore", log_prints=False)
def rescore(rubric: str, since: datetime | None = None, concurrency: int = 1) -> dict[str, Any]:
    """Re-score every stored call since ``since`` with ``rubric``; returns (and publishes) a summary."""
    t0 = time.perf_counter()
    from qm.rubric import load_rubric

    pipe = get_pipeline(asr=False)
    load_rubric(rubric, pipe.settings.rubrics_dir)  # a bad rubric fails the run once, not once per call
    ids = select_calls(since)
    notify("total", str(len(ids)))
    runner = ThreadPoolTaskRunner(max_workers=max(1, concurrency))
    outcomes = rescore_batch.with_options(task_runner=runner)(ids, rubric) if ids else []
    summary = summarise(outcomes, [], [], 0, time.perf_counter() - t0, [])
    summary["rubric"] = rubric
    publish(summary, key="qm-rescore", title=f"qm rescore with {rubric}")
    return summary
