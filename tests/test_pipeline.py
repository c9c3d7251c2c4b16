"""End to end through the real pipeline: Whisper, spaCy, the trained heads, the rubric and the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from qm.store.models import Call, Result, Transcript, UtteranceRow

ROOT = Path(__file__).resolve().parent.parent
AUDIO = Path(__file__).parent / "data" / "audio"
SCHEMA = json.loads((ROOT / "qm" / "schema" / "call-result.schema.json").read_text())


def validate(doc: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)


@pytest.fixture
def pipeline(settings, db_url: str):
    from qm.pipeline import Pipeline

    return Pipeline(settings.model_copy(update={"database_url": db_url}))


def truth(name: str) -> dict:
    return json.loads((AUDIO / f"{name}.json").read_text())


def test_stereo_call_is_transcribed_in_dialogue_order(pipeline) -> None:
    scored = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100", call_id="two")
    doc = scored.to_contract()
    validate(doc)
    speakers = [u["speaker"] for u in doc["utterances"]]
    # scripted turns: agent, customer, agent, customer
    collapsed = [s for i, s in enumerate(speakers) if i == 0 or s != speakers[i - 1]]
    assert collapsed == ["agent", "customer", "agent", "customer"]
    starts = [u["start"] for u in doc["utterances"]]
    assert starts == sorted(starts)
    assert "northwind" in doc["utterances"][0]["text"].lower()
    assert doc["audio"]["channels"] == 2
    assert doc["asr"] == {"model": "whisper-tiny.en", "language": "en"}
    assert 0.0 < doc["metrics"]["agent_talk_ratio"] < 1.0
    for turn in truth("two_speaker")["turns"]:
        inside = [u for u in doc["utterances"] if u["start"] < turn["end"] and u["end"] > turn["start"]]
        assert inside and all(u["speaker"] == turn["speaker"] for u in inside)


def test_rescoring_the_same_audio_updates_in_place(pipeline) -> None:
    first = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100")
    second = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100")
    assert second.transcript_cached and not first.transcript_cached
    assert "asr" not in second.timings
    store = pipeline.store
    assert store.count(Call) == 1
    assert store.count(Result) == 1
    assert store.count(Transcript) == 1
    assert store.count(UtteranceRow) == len(first.result.utterances)
    a, b = first.to_contract(), second.to_contract()
    assert json.dumps(a["criteria"], sort_keys=True) == json.dumps(b["criteria"], sort_keys=True)
    assert a["utterances"] == b["utterances"]
    assert a["score"] == b["score"]


def test_stored_rescore_is_byte_identical(pipeline) -> None:
    first = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100", call_id="det")
    again = pipeline.rescore("det")
    assert json.dumps(first.to_contract(), sort_keys=True) == json.dumps(again.to_contract(), sort_keys=True)


def test_a_rescore_rebuilds_turns_stored_by_an_older_turn_builder(pipeline) -> None:
    from sqlalchemy import select

    from qm.store.db import session_scope

    first = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100", call_id="regroup")
    with session_scope(pipeline.store.engine) as s:  # as an older builder would have stored it: a turn per word
        tr = s.scalars(select(Transcript).where(Transcript.audio_sha256 == first.result.audio.sha256)).one()
        tr.tokens = [{"speaker": t["speaker"], "tokens": [tok]} for t in tr.tokens for tok in t["tokens"]]
    again = pipeline.rescore("regroup")
    assert [(u.speaker, u.text) for u in again.result.utterances] == [
        (u.speaker, u.text) for u in first.result.utterances]
    with session_scope(pipeline.store.engine) as s:  # and the store now holds the rebuilt turns
        tr = s.scalars(select(Transcript).where(Transcript.audio_sha256 == first.result.audio.sha256)).one()
        assert len(tr.tokens) == len(first.turns)


def test_mono_call_is_diarised_into_agent_and_customer(pipeline) -> None:
    scored = pipeline.score(AUDIO / "two_speaker.mono.ogg", agent_id="T100", call_id="mono")
    doc = scored.to_contract()
    validate(doc)
    assert doc["audio"]["channels"] == 1
    assert scored.diarization is not None and scored.diarization["agent_found"]
    first = doc["utterances"][0]
    assert first["speaker"] == "agent" and "northwind" in first["text"].lower()
    for turn in truth("two_speaker")["turns"]:  # every scripted turn lands on the right voice
        inside = [u for u in doc["utterances"] if u["start"] < turn["end"] - 0.1 and u["end"] > turn["start"] + 0.1]
        assert inside and all(u["speaker"] == turn["speaker"] for u in inside), turn


def test_one_sided_call_scores_with_what_applies(pipeline) -> None:
    doc = pipeline.score(AUDIO / "one_sided.ogg", agent_id="T100").to_contract()
    validate(doc)
    assert doc["utterances"]
    assert {u["speaker"] for u in doc["utterances"]} == {"agent"}
    assert doc["metrics"]["customer_sentiment_start"] is None
    assert doc["metrics"]["agent_talk_ratio"] == 1.0


def test_pure_silence_is_an_empty_transcript_not_an_error(pipeline) -> None:
    doc = pipeline.score(AUDIO / "silence_3s.wav", agent_id="T100").to_contract()
    validate(doc)
    assert doc["utterances"] == []
    assert doc["metrics"]["silence_ratio"] == 1.0
    assert 0.0 <= doc["score"] <= 100.0


def test_redacted_audio_copy_is_written(pipeline) -> None:
    scored = pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100")
    assert scored.redacted_audio is not None and scored.redacted_audio.exists()
    from qm.audio import probe

    info = probe(scored.redacted_audio)
    assert info.channels == 2
    assert info.duration_s == pytest.approx(scored.result.audio.duration_s, abs=0.1)


def _run_cli(args: list[str], tmp_path: Path, db_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QM_DATA_DIR": str(tmp_path / "cli-data")}
    if db_url:
        env["QM_DATABASE_URL"] = db_url
    return subprocess.run([sys.executable, "-m", "qm.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=ROOT)


def test_cli_json_is_exactly_one_contract_document(tmp_path: Path) -> None:
    r = _run_cli(["score", str(AUDIO / "two_speaker.ogg"), "--agent", "T100", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # the whole of stdout is one document
    validate(doc)
    assert doc["agent_id"] == "T100"


@pytest.mark.parametrize("kind", ["missing", "empty", "junk"])
def test_cli_bad_input_is_one_clear_line_and_nothing_stored(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "junk":
        path.write_bytes(os.urandom(4096))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    r = _run_cli(["score", str(path), "--agent", "T100", "--json"], tmp_path, db)
    assert r.returncode != 0
    assert r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in r.stderr
    from qm.store import Store

    store = Store(db)
    assert store.count(Call) == 0
    assert store.failures()[0]["source"] == str(path)


def test_dual_mono_stereo_is_detected_and_diarised(settings, tmp_path: Path) -> None:
    """A recorder that copies one mix to both channels must not be read as agent=left, customer=right."""
    import numpy as np
    from audio_factory import write_audio

    from qm.audio import load_all, probe
    from qm.pipeline import Pipeline

    mono = load_all(probe(AUDIO / "two_speaker.mono.ogg"))[0]
    dual = write_audio(tmp_path / "dual.wav", np.stack([mono, mono]), 16000)
    scored = Pipeline(settings).score(dual, agent_id="T100", save=False)
    assert scored.layout == "mono"
    assert scored.diarization is not None


def _call_with_hold(tmp_path: Path, music: bool) -> Path:
    """two_speaker.ogg with a 50 s hold spliced in between the customer's first reply and the agent's answer."""
    from audio_factory import hold_loop, write_audio

    from qm.audio import TARGET_RATE, probe, stream_windows

    samples = np.concatenate([w.samples for w in stream_windows(probe(AUDIO / "two_speaker.ogg"))], axis=1)
    cut = int(6.5 * TARGET_RATE)  # the customer's turn ends at 6.18 s, the agent's next starts at 6.78 s
    hold = np.zeros((2, 50 * TARGET_RATE), dtype=np.float32)
    if music:
        hold[0] = hold_loop(50, TARGET_RATE)  # played from the agent's end, as a queue does
    out = np.concatenate([samples[:, :cut], hold, samples[:, cut:]], axis=1)
    return write_audio(tmp_path / f"hold_{'music' if music else 'silent'}.wav", out, TARGET_RATE)


def test_hold_music_is_a_hold_not_dead_air_and_survives_a_rescore(pipeline, tmp_path: Path) -> None:
    silent = pipeline.score(_call_with_hold(tmp_path, music=False), agent_id="T100", call_id="silent-hold")
    m = silent.result.metrics
    assert m.longest_silence_s > 45 and m.hold_s == 0.0
    assert {c.id: c for c in silent.result.criteria}["active_listening"].passed is False

    music = pipeline.score(_call_with_hold(tmp_path, music=True), agent_id="T100", call_id="music-hold")
    m = music.result.metrics
    assert m.longest_silence_s < 5.0, m
    assert 48.0 <= m.hold_s <= 51.0 and m.longest_hold_s == pytest.approx(m.hold_s, abs=0.01)
    assert m.silence_ratio < silent.result.metrics.silence_ratio
    assert music.to_contract()["metrics"]["hold_s"] == round(m.hold_s, 4)

    again = pipeline.rescore("music-hold")  # from the stored transcript and sound, no audio decoded
    assert again.result.metrics == m
    assert json.dumps(again.to_contract()["criteria"], sort_keys=True) == json.dumps(
        music.to_contract()["criteria"], sort_keys=True)


def test_calls_redacted_by_an_older_redactor_are_redacted_again_from_their_recording(pipeline, tmp_path) -> None:
    """A redactor upgrade reaches stored calls: their transcript is made again from the recording and replaces
    the old tokens in place (no duplicate call, transcript or result); a call whose recording is gone is
    reported, not silently skipped."""
    import shutil

    from sqlalchemy import update

    from qm.nlp.redaction import redaction_key

    gone = tmp_path / "gone.ogg"
    shutil.copy(AUDIO / "one_sided.ogg", gone)
    pipeline.score(AUDIO / "two_speaker.ogg", agent_id="T100", call_id="kept", metadata={"queue": "billing"})
    pipeline.score(gone, agent_id="T101", call_id="gone")
    gone.unlink()
    store = pipeline.store
    key = redaction_key(pipeline.settings.redact_types)
    assert store.calls_redacted_otherwise(key) == []  # freshly scored: nothing to do
    assert pipeline.redact_again() == {}
    with store.engine.begin() as conn:  # as if both were stored by an older redactor
        conn.execute(update(Transcript).values(redaction="v1:CARD"))
    outcomes = pipeline.redact_again()
    assert outcomes["kept"] == "transcribed and redacted again"
    assert outcomes["gone"].startswith("recording not readable here") and "gone.ogg" in outcomes["gone"]
    assert [c.call_id for c in store.calls_redacted_otherwise(key)] == ["gone"]
    assert store.count(Call) == 2 and store.count(Transcript) == 2 and store.count(Result) == 2
    found = store.find_transcript_for_call("kept")
    assert found is not None and found[1].redaction == key and found[0].call_metadata == {"queue": "billing"}
    assert store.get_result("kept")["agent_id"] == "T100"
