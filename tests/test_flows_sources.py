"""Recording discovery: metadata from names, sidecars and manifests; unstable files; fsspec URLs."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from pathlib import Path

import fsspec
import pytest

from flows.sources import DEFAULT_PATTERN, Inbox

AUDIO = Path(__file__).parent / "data" / "audio"


def test_filename_pattern_and_sidecar_merge(tmp_path: Path) -> None:
    shutil.copy(AUDIO / "two_speaker.ogg", tmp_path / "A7_c42_20261121T093000.ogg")
    shutil.copy(AUDIO / "one_sided.ogg", tmp_path / "A8_c43_20261121T093500.ogg")
    (tmp_path / "A8_c43_20261121T093500.json").write_text(json.dumps(
        {"agent_id": "A9", "queue": "billing", "direction": "inbound", "agent_channel": "right",
         "turns": [{"big": "structure ignored"}]}))
    (tmp_path / "notes.txt").write_text("not audio")
    found = Inbox(str(tmp_path), stable_wait_s=0).discover()
    by_call = {r.meta.call_id: r for r in found.recordings}
    assert set(by_call) == {"c42", "c43"}
    a = by_call["c42"].meta
    assert (a.agent_id, a.started_at) == ("A7", "2026-11-21T09:30:00+00:00")
    b = by_call["c43"].meta
    assert (b.agent_id, b.queue, b.direction, b.agent_channel) == ("A9", "billing", "inbound", "right")
    assert "turns" not in b.extra  # only scalar extras are carried into stored metadata
    assert found.rejected == [] and found.still_writing == []


def test_manifest_rows_and_missing_file(tmp_path: Path) -> None:
    shutil.copy(AUDIO / "two_speaker.ogg", tmp_path / "x.ogg")
    manifest = tmp_path / "calls.csv"
    manifest.write_text("agent_id,call_id,start_time,queue,direction,channel_layout,path\n"
                        "A1,m1,2026-11-21T08:00:00Z,sales,outbound,left,x.ogg\n"
                        "A2,m2,2026-11-21T08:05:00,sales,inbound,left,gone.ogg\n"
                        "A3,m3,yesterday,sales,inbound,left,x.ogg\n")
    found = Inbox(str(tmp_path), manifest=str(manifest), stable_wait_s=0).discover()
    assert [r.meta.call_id for r in found.recordings] == ["m1"]
    m1 = found.recordings[0].meta
    assert (m1.agent_id, m1.queue, m1.direction, m1.agent_channel) == ("A1", "sales", "outbound", "left")
    assert m1.started_at == "2026-11-21T08:00:00+00:00"
    reasons = {r.call_id: r.reason for r in found.rejected}
    assert "gone.ogg" in reasons["m2"] and "does not exist" in reasons["m2"]
    assert not next(r for r in found.rejected if r.call_id == "m2").present
    assert "yesterday" in reasons["m3"]


def test_since_filters_by_start_time(tmp_path: Path) -> None:
    shutil.copy(AUDIO / "two_speaker.ogg", tmp_path / "A1_old_20261120T080000.ogg")
    shutil.copy(AUDIO / "one_sided.ogg", tmp_path / "A1_new_20261121T080000.ogg")
    from datetime import UTC, datetime

    found = Inbox(str(tmp_path), stable_wait_s=0).discover(since=datetime(2026, 11, 21, tzinfo=UTC))
    assert [r.meta.call_id for r in found.recordings] == ["new"]


def test_file_still_being_written_is_skipped(tmp_path: Path) -> None:
    data = (AUDIO / "two_speaker.ogg").read_bytes()
    shutil.copy(AUDIO / "one_sided.ogg", tmp_path / "done.ogg")
    growing = tmp_path / "growing.ogg"
    growing.write_bytes(data[:1000])
    stop = threading.Event()

    def writer() -> None:
        with growing.open("ab") as fh:
            for i in range(1000, len(data), 500):
                if stop.is_set():
                    return
                fh.write(data[i:i + 500])
                fh.flush()
                time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    try:
        found = Inbox(str(tmp_path), stable_wait_s=0.5).discover()
    finally:
        stop.set()
        t.join()
    assert [Path(r.uri).name for r in found.recordings] == ["done.ogg"]
    assert [Path(u).name for u in found.still_writing] == ["growing.ogg"]


def test_memory_url_and_quarantine() -> None:
    root = f"memory://inbox-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{root}/A1_c1_20261121T100000.ogg", (AUDIO / "two_speaker.ogg").read_bytes())
    fs.pipe(f"{root}/A1_c1_20261121T100000.json", b'{"queue": "q1"}')
    inbox = Inbox(root, stable_wait_s=0.1)
    found = inbox.discover()
    assert len(found.recordings) == 1
    rec = found.recordings[0]
    assert rec.uri.startswith("memory://") and rec.meta.queue == "q1"
    with inbox.local_copy(rec.uri) as local:
        assert Path(local).read_bytes() == (AUDIO / "two_speaker.ogg").read_bytes()
    note = inbox.quarantine(rec.uri, "bad audio")
    assert fs.exists(f"{root}/.quarantine/A1_c1_20261121T100000.ogg")
    assert fs.exists(f"{root}/.quarantine/A1_c1_20261121T100000.json")
    assert "reason: bad audio" in fs.cat(inbox.path(note)).decode()
    assert inbox.discover().recordings == []  # quarantine is never an input


def test_bad_sidecar_and_bad_pattern(tmp_path: Path) -> None:
    shutil.copy(AUDIO / "two_speaker.ogg", tmp_path / "c.ogg")
    (tmp_path / "c.json").write_text("{not json")
    found = Inbox(str(tmp_path), stable_wait_s=0).discover()
    assert found.recordings == [] and "not valid JSON" in found.rejected[0].reason
    with pytest.raises(ValueError, match="names none of"):
        Inbox(str(tmp_path), pattern=r"(?P<x>\d+)")
    assert Inbox(str(tmp_path), pattern=DEFAULT_PATTERN).pattern is not None


def test_missing_inbox_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        Inbox(str(tmp_path / "nope"), stable_wait_s=0).discover()
