"""The orchestration commands reject bad options with one clear line (no flow is started)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import flows_app

runner = CliRunner()


def test_nightly_rejects_missing_inbox(tmp_path: Path) -> None:
    res = runner.invoke(flows_app, ["nightly", "--inbox", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_nightly_rejects_bad_pattern_and_manifest(tmp_path: Path) -> None:
    res = runner.invoke(flows_app, ["nightly", "--inbox", str(tmp_path), "--pattern", "(?P<agent_id>"])
    assert res.exit_code == 2 and "--pattern" in res.output
    missing = str(tmp_path / "m.csv")
    res = runner.invoke(flows_app, ["nightly", "--inbox", str(tmp_path), "--manifest", missing])
    assert res.exit_code == 2 and "m.csv" in res.output and "not found" in res.output


def test_schedule_and_worker_need_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        for args in (["schedule", "--inbox", "/data/inbox"], ["worker"]):
            res = runner.invoke(flows_app, args)
            assert res.exit_code == 2 and "PREFECT_API_URL" in res.output
