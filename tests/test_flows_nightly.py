"""The Prefect flows run for real (prefect_test_harness) on PostgreSQL with the real pipeline.

Covers: scoring an inbox once and a re-run scoring nothing; re-scoring with another rubric without
Whisper; quarantine of bad input; a still-growing file; a worker killed with SIGKILL mid-call; and a
database connection drop mid-batch.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

AUDIO = Path(__file__).parent / "data" / "audio"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def harness() -> Iterator[str]:
    """One temporary Prefect server for the module (~30 s to start); yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def qm_db(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, harness: str) -> Iterator[str]:
    """A clean qm schema on the session PostgreSQL database, wired through QM_DATABASE_URL."""
    from conftest import _forget_engines, _fresh_schema_db

    from flows.score import forget_pipelines
    from qm.config import get_settings

    _forget_engines()
    forget_pipelines()
    url = _fresh_schema_db(postgres_url)
    monkeypatch.setenv("QM_DATABASE_URL", url)
    monkeypatch.setenv("QM_DATA_DIR", str(tmp_path / "qmdata"))
    get_settings.cache_clear()
    yield url
    forget_pipelines()
    _forget_engines()
    get_settings.cache_clear()


@pytest.fixture
def score_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts Pipeline.score invocations per file name (to see what was retried); the real method runs."""
    from qm.pipeline import Pipeline

    counts: Counter[str] = Counter()
    real = Pipeline.score

    def counted(self, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        counts[Path(path).name] += 1
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "score", counted)
    return counts


def _count(url: str, model: type) -> int:
    from qm.store import Store

    return Store(url).count(model)


def _run(inbox: Path | str, **kw):  # type: ignore[no-untyped-def]
    from flows.nightly import nightly

    kw.setdefault("stable_wait_s", 0.2)
    kw.setdefault("concurrency", 2)
    return nightly(source=str(inbox), **kw)


def test_nightly_scores_once_then_rescores_without_whisper(qm_db: str, tmp_path: Path,
                                                           score_calls: Counter[str]) -> None:
    from prefect import get_client

    from qm.store.claims import ClaimStore
    from qm.store.models import Call, Result, Transcript

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(AUDIO / "two_speaker.ogg", inbox / "A1_c001_20261121T100000.ogg")
    shutil.copy(AUDIO / "one_sided.ogg", inbox / "sided.ogg")
    (inbox / "sided.json").write_text('{"agent_id": "A2", "call_id": "c002", "queue": "billing"}')

    first = _run(inbox)
    assert (first["scored"], first["failed"], first["already_done"]) == (2, 0, 0)
    assert {c["call_id"] for c in first["calls"]} == {"c001", "c002"}
    assert first["audio_hours"] == pytest.approx((13.17 + 12.11) / 3600, rel=0.02)
    assert first["slowest_stage"]["stage"] in first["stage_seconds"]
    from qm.store import Store

    doc = Store(qm_db).get_result("c001")
    assert doc is not None and doc["agent_id"] == "A1"
    assert _count(qm_db, Call) == 2 and _count(qm_db, Result) == 2
    assert all(r.status == "done" for r in ClaimStore(qm_db).rows())

    with get_client(sync_client=True) as client:
        art = client.read_latest_artifacts()
    keys = {a.key for a in art}
    assert "qm-nightly" in keys and "qm-nightly-calls" in keys

    second = _run(inbox)
    assert (second["scored"], second["failed"], second["already_done"]) == (0, 0, 2)
    assert _count(qm_db, Result) == 2
    assert sum(score_calls.values()) == 2  # nothing was scored twice

    from flows.rescore import rescore

    transcripts = _count(qm_db, Transcript)
    again = rescore(rubric="sales")
    assert (again["scored"], again["failed"]) == (2, 0)
    assert "asr" not in again["stage_seconds"] and "rubric" in again["stage_seconds"]
    assert _count(qm_db, Transcript) == transcripts
    assert _count(qm_db, Result) == 4  # one result per rubric, history kept
    assert sum(score_calls.values()) == 2


def test_bad_input_is_quarantined_and_batch_goes_on(qm_db: str, tmp_path: Path,
                                                    score_calls: Counter[str]) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(AUDIO / "two_speaker.ogg", inbox / "good.ogg")
    shutil.copy(AUDIO / "one_sided.ogg", inbox / "dup.ogg")
    (inbox / "garbage.wav").write_bytes(b"RIFF" + os.urandom(3000))
    manifest = tmp_path / "calls.csv"
    manifest.write_text("agent_id,call_id,start_time,queue,direction,channel_layout,path\n"
                        "A1,m1,2026-11-21T08:00:00Z,q,inbound,left,good.ogg\n"
                        "A1,m2,2026-11-21T08:01:00Z,q,inbound,left,missing.ogg\n"
                        "A1,m3,2026-11-21T08:02:00Z,q,inbound,left,garbage.wav\n"
                        "A1,m1,2026-11-21T08:03:00Z,q,inbound,left,dup.ogg\n")
    summary = _run(inbox, manifest=str(manifest))
    assert summary["scored"] == 1 and summary["failed"] == 3
    reasons = {Path(f["uri"]).name: f["reason"] for f in summary["failures"]}
    assert "does not exist" in reasons["missing.ogg"]
    assert "not a readable audio file" in reasons["garbage.wav"]
    assert "appears twice in this batch with different audio" in reasons["dup.ogg"]
    q = inbox / ".quarantine"
    assert (q / "garbage.wav").exists() and (q / "dup.ogg").exists() and not (inbox / "garbage.wav").exists()
    assert "not a readable audio file" in (q / "garbage.wav.error.txt").read_text()
    assert "calls.csv line 3" in (q / "missing.ogg.error.txt").read_text()
    assert score_calls["garbage.wav"] == 1  # bad input is never retried
    from qm.store import Store

    failures = {Path(f["source"]).name for f in Store(qm_db).failures()}
    assert {"garbage.wav", "dup.ogg", "missing.ogg"} <= failures

    # A later file reusing a stored call id with other audio is refused before any scoring.
    shutil.copy(AUDIO / "two_speaker.mono.ogg", inbox / "late.ogg")
    manifest.write_text("agent_id,call_id,path\nA1,m1,late.ogg\n")
    late = _run(inbox, manifest=str(manifest))
    assert late["scored"] == 0 and "already stored with different audio" in late["failures"][0]["reason"]
    assert "late.ogg" not in score_calls


def test_growing_file_waits_until_stable(qm_db: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = (AUDIO / "one_sided.ogg").read_bytes()
    target = inbox / "A5_grow_20261121T110000.ogg"
    target.write_bytes(data[:2000])
    stop = threading.Event()

    def writer() -> None:
        with target.open("ab") as fh:
            for i in range(2000, len(data), 300):
                fh.write(data[i:i + 300])
                fh.flush()
                if stop.wait(0.1):
                    break
            fh.write(data[fh.tell():])

    t = threading.Thread(target=writer)
    t.start()
    try:
        during = _run(inbox, stable_wait_s=0.5)
    finally:
        stop.set()
        t.join()
    assert during["scored"] == 0 and during["failed"] == 0
    assert [Path(u).name for u in during["still_writing"]] == [target.name]
    assert target.read_bytes() == data
    after = _run(inbox, stable_wait_s=0.5)
    assert after["scored"] == 1 and after["calls"][0]["call_id"] == "grow"


def test_worker_killed_mid_call_is_rescored_exactly_once(qm_db: str, tmp_path: Path, harness: str) -> None:
    from qm.store.claims import ClaimStore
    from qm.store.models import Result

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(AUDIO / "two_speaker.ogg", inbox / "A1_kill_20261121T120000.ogg")
    lease = 8.0
    env = {**os.environ, "QM_DATABASE_URL": qm_db, "PREFECT_API_URL": harness,
           "PREFECT_LOGGING_LEVEL": "ERROR",
           "QM_DATA_DIR": str(tmp_path / "victim")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "nightly", "--inbox", str(inbox), "--lease", str(lease),
         "--stable-wait", "0", "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    claims = ClaimStore(qm_db)
    deadline = time.monotonic() + 180
    held = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            rows = claims.rows()
            if rows and rows[0].status == "claimed":
                held = rows[0]
                break
            time.sleep(0.05)
        time.sleep(0.3)  # well inside the pipeline (ASR alone takes seconds)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert held is not None, "the worker never claimed the call"
    assert proc.returncode == -signal.SIGKILL
    row = claims.get(held.id)
    assert row.status == "claimed" and row.claimed_by == held.claimed_by
    assert _count(qm_db, Result) == 0  # killed before storing

    while_leased = _run(inbox)  # the dead worker's lease still stands: nobody may take the call
    assert while_leased["scored"] == 0 and claims.get(held.id).status == "claimed"

    remaining = (row.lease_until.timestamp() - time.time()) if row.lease_until else 0
    time.sleep(max(0.0, remaining) + 0.5)
    after = _run(inbox)
    assert after["scored"] == 1 and after["calls"][0]["call_id"] == "kill"
    final = claims.get(held.id)
    assert final.status == "done" and final.attempts == 2 and final.claimed_by != held.claimed_by
    assert _count(qm_db, Result) == 1
    assert _run(inbox)["scored"] == 0


def _terminate_backends(url: str) -> int:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": name}).scalar() or 0)
    finally:
        eng.dispose()


def test_database_connections_dropped_mid_batch(qm_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                score_calls: Counter[str]) -> None:
    """Every qm connection is killed between calls and one store write fails once: nothing lost or doubled."""
    from sqlalchemy.exc import OperationalError

    from qm.store import Store
    from qm.store.claims import ClaimStore
    from qm.store.models import Call, Result

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i, src in enumerate(["two_speaker.ogg", "one_sided.ogg", "two_speaker.mono.ogg"]):
        shutil.copy(AUDIO / src, inbox / f"A1_db{i}_20261121T13000{i}.ogg")
    killed: list[int] = []
    failed_once: list[str] = []
    real_save = Store.save

    def save(self, result, **kw):  # type: ignore[no-untyped-def]
        if not killed:
            killed.append(_terminate_backends(qm_db))  # every pooled qm connection dies here
        elif not failed_once:
            failed_once.append(result.call_id)  # and one write meets a dropped connection
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return real_save(self, result, **kw)

    monkeypatch.setattr(Store, "save", save)
    summary = _run(inbox, concurrency=1)
    assert killed and killed[0] >= 1
    assert failed_once
    assert summary["scored"] == 3 and summary["failed"] == 0 and summary["released"] == 0
    assert _count(qm_db, Call) == 3 and _count(qm_db, Result) == 3
    assert all(r.status == "done" for r in ClaimStore(qm_db).rows())
    retried = [n for n, k in score_calls.items() if k == 2]
    assert len(retried) == 1 and sum(score_calls.values()) == 4  # one transient retry, nothing else


def test_schedule_creates_deployments_on_the_server(harness: str) -> None:
    from prefect import get_client

    from flows.deploy import deploy_all

    with pytest.raises(ValueError, match="not a valid cron"):
        deploy_all(inbox="/data/inbox", cron="0 25 * * *", pool="qm-test")
    with pytest.raises(ValueError, match="IANA"):
        deploy_all(inbox="/data/inbox", cron="0 2 * * *", timezone="Mars/Olympus", pool="qm-test")
    ids = deploy_all(inbox="/data/inbox", cron="0 2 * * *", timezone="Europe/London", pool="qm-test",
                     fan_out=3)
    with get_client(sync_client=True) as client:
        night = client.read_deployment(ids["qm-nightly/qm-nightly"])
        drain = client.read_deployment(ids["qm-score-pending/qm-score-pending"])
        pool = client.read_work_pool("qm-test")
    assert pool.type == "process"
    assert night.work_pool_name == drain.work_pool_name == "qm-test"
    assert night.entrypoint == "flows.nightly.nightly" and drain.entrypoint == "flows.nightly.score_pending"
    sched = night.schedules[0].schedule
    assert (sched.cron, sched.timezone) == ("0 2 * * *", "Europe/London")
    assert night.parameters["source"] == "/data/inbox" and night.parameters["fan_out"] == 3
