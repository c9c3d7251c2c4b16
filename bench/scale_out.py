"""Scale-out of the nightly flow over Prefect process workers, against PostgreSQL.

Usage: .venv/bin/python bench/scale_out.py [--calls 20] [--workers 1 2] [--overhead-calls 5] [--json]

What it does, all for real (no mocks):
1. builds an inbox of >= 20 distinct stereo calls from bench/calls/audio (copies get a little
   trailing silence so every file has different bytes and is transcribed afresh: no cache hits);
2. starts a local Prefect server (SQLite for Prefect's own state) and creates the deployments with
   ``flows.deploy.deploy_all`` on a process work pool;
3. for each N in --workers: empties the qm schema on a fresh PostgreSQL database, starts N
   ``qm worker`` processes (``--limit 1``), runs the nightly flow with ``fan_out=N`` and times it,
   then checks that every call was scored exactly once (one result per call, every claim done on
   its first attempt) and how the calls split over the workers;
4. measures the flow overhead per call: the same calls scored by ``Pipeline.score`` in a loop vs.
   by the nightly flow in this process (models already loaded in both, fresh schema each).

Needs the PostgreSQL at QM_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
AUDIO = ROOT / "bench" / "calls" / "audio"
ADMIN_URL = os.environ.get("QM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POOL = "qm-bench"


def _sources() -> list[Path]:
    """The rendered bench calls when present (bench/calls/audio is not committed), else the committed
    demo and test calls."""
    bench = sorted(p for p in AUDIO.glob("bench-*.wav") if not p.name.endswith(".mono.wav")
                   and "long" not in p.name and "5min" not in p.name)
    if bench:
        return bench
    committed = sorted((ROOT / "qm" / "demo" / "audio").glob("*.ogg"))
    committed += [ROOT / "tests" / "data" / "audio" / n for n in ("two_speaker.ogg", "one_sided.ogg")]
    return [p for p in committed if p.exists()]


def _pcm(path: Path, rate: int = 8000) -> bytes:
    """Decode any format to interleaved 16-bit stereo at ``rate`` (telephony), as WAV frame bytes."""
    import av

    out = []
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rs = av.AudioResampler(format="s16", layout="stereo", rate=rate)
        for frame in c.decode(stream):
            out += [f.to_ndarray().tobytes() for f in rs.resample(frame)]
        out += [f.to_ndarray().tobytes() for f in rs.resample(None)]
    return b"".join(out)


def build_inbox(dst: Path, n: int) -> float:
    """n distinct stereo 8 kHz WAVs named agent_call_start; returns total audio seconds."""
    srcs = _sources()
    if not srcs:
        raise SystemExit("no source calls found (bench/calls/audio, qm/demo/audio, tests/data/audio)")
    dst.mkdir(parents=True, exist_ok=True)
    pcm = {p: _pcm(p) for p in srcs}
    total = 0.0
    for i in range(n):
        src = srcs[i % len(srcs)]
        pad = b"\x00" * (4 * 8 * 80 * (i // len(srcs)))  # +80 ms of silence per repeat: different bytes
        name = f"A{100 + i % 7}_bench{i:03d}_20261121T{8 + i // 60:02d}{i % 60:02d}00.wav"
        with wave.open(str(dst / name), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm[src] + pad)
        total += len(pcm[src] + pad) / (4 * 8000)
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"prefect server exited; see {home / 'server.log'}")
        time.sleep(1)
    raise SystemExit("prefect server did not become healthy in 180 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def fresh_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    from flows.score import forget_pipelines
    from qm.config import get_settings
    from qm.store.db import dispose_all

    forget_pipelines()
    dispose_all()
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    get_settings.cache_clear()


def check_exactly_once(url: str, n_calls: int) -> dict[str, Any]:
    from qm.store import Store
    from qm.store.claims import ClaimStore
    from qm.store.models import Call, Result

    rows = ClaimStore(url).rows()
    store = Store(url)
    per_worker = Counter(r.claimed_by.split(":")[1] if r.claimed_by else "-" for r in rows)
    res = {"calls": store.count(Call), "results": store.count(Result), "claims": len(rows),
           "claims_done": sum(r.status == "done" for r in rows),
           "max_attempts": max((r.attempts for r in rows), default=0),
           "calls_per_worker_pid": dict(per_worker)}
    assert res["calls"] == res["results"] == res["claims"] == res["claims_done"] == n_calls, res
    assert res["max_attempts"] == 1, f"a call was claimed twice: {res}"
    return res


def run_scale(n_workers: int, inbox: Path, url: str, api: str, work: Path) -> dict[str, Any]:
    from flows.nightly import nightly

    fresh_schema(url)
    env = {**os.environ, "QM_DATABASE_URL": url, "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_LOGGING_LEVEL": "WARNING", "QM_DATA_DIR": str(work / f"data-w{n_workers}")}
    workers = [subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--pool", POOL, "--limit", "1",
                                 "--name", f"bench-{n_workers}-{i}-{uuid.uuid4().hex[:4]}"],
                                cwd=ROOT, env=env,
                                stdout=open(work / f"worker-{n_workers}-{i}.log", "wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
               for i in range(n_workers)]
    try:
        time.sleep(3)  # let the workers register with the pool
        t0 = time.perf_counter()
        summary = nightly(source=str(inbox), concurrency=1, stable_wait_s=0, fan_out=n_workers)
        wall = time.perf_counter() - t0
    finally:
        for w in workers:
            stop(w)
    checked = check_exactly_once(url, summary["scored"])
    return {"workers": n_workers, "wall_s": wall, "scored": summary["scored"], "failed": summary["failed"],
            "audio_h": summary["audio_hours"], "audio_h_per_wall_h": summary["audio_hours"] * 3600 / wall,
            **checked}


def run_overhead(inbox: Path, k: int, url: str, work: Path) -> dict[str, Any]:
    """Same k calls: a Pipeline.score loop vs. the nightly flow in this process (both warm)."""
    from flows.nightly import nightly
    from flows.score import get_pipeline
    from flows.sources import Inbox

    sub = work / "overhead-inbox"
    sub.mkdir(exist_ok=True)
    k = min(k, len(list(inbox.iterdir())) - 1)
    for p in sorted(inbox.iterdir())[:k]:
        shutil.copy(p, sub / p.name)
    recs = Inbox(str(sub), stable_wait_s=0).discover().recordings
    fresh_schema(url)
    t_load = time.perf_counter()
    pipe = get_pipeline()
    load_s = time.perf_counter() - t_load
    spare = sorted(inbox.iterdir())[k]  # first-call costs (lazy caches) are paid outside the timings
    pipe.score(spare, agent_id="warm", call_id="warm-up")
    t0 = time.perf_counter()
    for r in recs:
        m = r.meta
        pipe.score(r.uri, agent_id=m.agent_id, call_id=m.call_id, started_at=m.started())
    direct = time.perf_counter() - t0
    fresh_schema(url)
    get_pipeline()  # re-opened on the emptied schema; models stay loaded (process caches)
    t1 = time.perf_counter()
    summary = nightly(source=str(sub), concurrency=1, stable_wait_s=0)
    flow_s = time.perf_counter() - t1
    assert summary["scored"] == len(recs), summary
    return {"calls": len(recs), "model_load_s": load_s, "direct_s": direct, "flow_s": flow_s,
            "direct_per_call_s": direct / len(recs), "flow_per_call_s": flow_s / len(recs),
            "overhead_per_call_s": (flow_s - direct) / len(recs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--overhead-calls", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="Keep the work folder (worker logs) for inspection.")
    args = ap.parse_args()
    if args.calls < 1:
        raise SystemExit("--calls must be >= 1")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    work = Path(tempfile.mkdtemp(prefix="qm-scale-"))
    home = work / "prefect"
    home.mkdir()
    inbox = work / "inbox"
    audio_s = build_inbox(inbox, args.calls)

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN_URL)
    dbname = f"qm_bench_{uuid.uuid4().hex[:8]}"
    admin_eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    url = admin.set(database=dbname).render_as_string(hide_password=False)
    os.environ["QM_DATABASE_URL"] = url
    os.environ["QM_DATA_DIR"] = str(work / "data")
    os.environ["PREFECT_HOME"] = str(home)
    server, api = start_server(home)
    os.environ["PREFECT_API_URL"] = api
    results: dict[str, Any] = {"calls": args.calls, "audio_s": audio_s, "cpu_cores": os.cpu_count()}
    try:
        from flows.deploy import deploy_all

        deploy_all(inbox=str(inbox), cron="0 2 * * *", pool=POOL, paused=True)
        results["scale"] = [run_scale(n, inbox, url, api, work) for n in args.workers]
        if args.overhead_calls > 0:
            results["overhead"] = run_overhead(inbox, args.overhead_calls, url, work)
    finally:
        stop(server)
        from qm.store.db import dispose_all

        dispose_all()
        with admin_eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin_eng.dispose()
        if args.keep:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(results, args.json)


def report(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(r, indent=1))
        return
    print(f"inbox: {r['calls']} calls, {r['audio_s'] / 60:.1f} min of audio; {r['cpu_cores']} CPU cores")
    base = r["scale"][0]["wall_s"]
    for s in r["scale"]:
        print(f"  {s['workers']} worker(s): wall {s['wall_s']:.1f} s, "
              f"{s['audio_h_per_wall_h']:.1f} h audio per "
              f"wall h, speed-up x{base / s['wall_s']:.2f}; scored {s['scored']}, results {s['results']}, "
              f"max claim attempts {s['max_attempts']} (no call scored twice); "
              f"calls per worker pid {s['calls_per_worker_pid']}")
    o = r.get("overhead")
    if not o:
        return
    print(f"flow overhead: {o['calls']} calls, Pipeline.score loop {o['direct_s']:.1f} s "
          f"({o['direct_per_call_s']:.2f} s/call) vs nightly flow {o['flow_s']:.1f} s "
          f"({o['flow_per_call_s']:.2f} s/call): {o['overhead_per_call_s']:+.2f} s per call; "
          f"model load (cold) {o['model_load_s']:.1f} s")


if __name__ == "__main__":
    main()
