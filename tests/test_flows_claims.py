"""Claims on SQLite and PostgreSQL: one winner per call, leases expire, stale workers are fenced out."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from qm.store.claims import CLAIMED, DONE, FAILED, PENDING, ClaimStore, NewClaim


def _new(n: int = 1) -> list[NewClaim]:
    return [NewClaim(f"/inbox/c{i}.wav", f"{i:064x}", 100 + i, 1.0 + i, f"c{i}", {"agent_id": "A"})
            for i in range(n)]


def test_register_is_idempotent_and_adopts_unfinished(db_url: str) -> None:
    cs = ClaimStore(db_url)
    first = cs.register(_new(3), "b1")
    again = cs.register(_new(3), "b2")
    assert [r.id for r in first] == [r.id for r in again]
    assert {r.batch for r in again} == {"b2"}  # pending work moves to the newest batch
    assert cs.counts() == {PENDING: 3, CLAIMED: 0, DONE: 0, FAILED: 0}
    done = cs.try_claim(first[0].id, "w", 60)
    assert done is not None and cs.complete(done.id, "w", "c0", 12.0)
    cs.register(_new(3), "b3")
    assert cs.get(first[0].id).batch == "b2"  # finished work keeps its batch
    assert [r.id for r in cs.claimable("b3")] == [first[1].id, first[2].id]


def test_exactly_one_of_many_racing_workers_wins(db_url: str) -> None:
    cs = ClaimStore(db_url)
    row = cs.register(_new(1), "b")[0]
    barrier = threading.Barrier(8)

    def attempt(i: int) -> bool:
        barrier.wait()
        return cs.try_claim(row.id, f"w{i}", 60) is not None

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(attempt, range(8)))
    assert sum(wins) == 1
    got = cs.get(row.id)
    assert got.status == CLAIMED and got.attempts == 1 and got.claimed_by == f"w{wins.index(True)}"


def test_expired_lease_is_reclaimable_and_stale_worker_is_fenced(db_url: str) -> None:
    cs = ClaimStore(db_url)
    row = cs.register(_new(1), "b")[0]
    assert cs.try_claim(row.id, "dead", 0.3) is not None
    assert cs.try_claim(row.id, "other", 60) is None  # lease still held
    assert cs.claimable("b") == []
    time.sleep(0.5)
    assert [r.id for r in cs.claimable("b")] == [row.id]
    assert cs.try_claim(row.id, "other", 60) is not None
    assert not cs.renew(row.id, "dead", 60)  # the dead worker's lease is gone ...
    assert not cs.complete(row.id, "dead", "c0", 1.0)  # ... and it cannot mark the call done
    assert cs.renew(row.id, "other", 60)
    assert cs.complete(row.id, "other", "c0", 1.0)
    final = cs.get(row.id)
    assert (final.status, final.claimed_by, final.attempts, final.duration_s) == (DONE, "other", 2, 1.0)


def test_release_and_fail(db_url: str) -> None:
    cs = ClaimStore(db_url)
    a, b = cs.register(_new(2), "b")
    cs.try_claim(a.id, "w", 60)
    cs.try_claim(b.id, "w", 60)
    assert cs.release(a.id, "w", "db restarted")
    assert cs.fail(b.id, "w", "not audio")
    assert cs.get(a.id).status == PENDING and cs.get(a.id).error == "db restarted"
    assert cs.get(b.id).status == FAILED
    assert [r.id for r in cs.claimable()] == [a.id]


def test_claims_migration_downgrades_and_upgrades(tmp_path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from qm.store.db import alembic_config, get_engine

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = get_engine(url)
    assert "claims" in inspect(engine).get_table_names()
    cfg = alembic_config(url)
    command.downgrade(cfg, "0001")
    assert "claims" not in inspect(engine).get_table_names()
    assert "calls" in inspect(engine).get_table_names()
    command.upgrade(cfg, "head")
    assert "claims" in inspect(engine).get_table_names()


def test_claim_writes_ride_out_a_database_blip() -> None:
    import pytest
    from sqlalchemy.exc import OperationalError

    from flows.score import db_retry

    calls: list[int] = []

    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) < 3:
            raise OperationalError("UPDATE claims", {}, Exception("terminating connection"))
        return x * 2

    assert db_retry(flaky, 21, delay_s=0) == 42 and len(calls) == 3
    calls.clear()
    with pytest.raises(OperationalError):
        db_retry(flaky, 1, tries=2, delay_s=0)
    assert len(calls) == 2
