"""Shared fixtures: isolated settings, both databases, and models loaded once per session."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QM_SHARED_DIR", ROOT.parent / "shared"))
DATA = Path(__file__).parent / "data"
POSTGRES_ADMIN_URL = os.environ.get("QM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards.

    PostgreSQL is part of the required environment (README): if it is unreachable the
    tests fail loudly rather than silently skipping half the store coverage.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"qm_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin.set(database=name).render_as_string(hide_password=False)
    _forget_engines()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _forget_engines() -> None:
    """Close pooled connections so a database can be emptied or dropped."""
    from qm.store.db import dispose_all

    dispose_all()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'qm.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        _forget_engines()
        url = _fresh_schema_db(base)
    yield url
    _forget_engines()


def _fresh_schema_db(base: str) -> str:
    """Empty the session database between tests so every test starts clean."""
    from sqlalchemy import create_engine, text

    eng = create_engine(base)
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    return base


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings isolated in a temporary data directory (SQLite there)."""
    from qm.config import Settings, get_settings

    monkeypatch.setenv("QM_DATA_DIR", str(tmp_path / "qmdata"))
    monkeypatch.delenv("QM_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    s = Settings()
    yield s
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "datasets").is_dir():
        pytest.fail(f"shared datasets not found at {SHARED} (set QM_SHARED_DIR)")
    return SHARED
