"""Persistence of scored calls (SQLAlchemy 2 + Alembic; SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from qm.store.repository import CallSummary, Store


def open_store(url: str | None = None) -> Store:
    from qm.config import get_settings

    return Store(url or get_settings().resolved_database_url)


def get_result(call_id: str, rubric_id: str | None = None) -> dict | None:
    """The newest stored contract document of ``call_id`` in the configured database."""
    return open_store().get_result(call_id, rubric_id)


__all__ = ["CallSummary", "Store", "get_result", "open_store"]
