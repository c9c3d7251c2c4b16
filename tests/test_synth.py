"""The synthetic-call generator and the audio it committed: demo calls, test fixtures, bench scripts.

The committed-file checks run everywhere (CI has no TTS); rendering checks need espeak-ng/flite/ffmpeg
and are skipped with a reason when those are missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ is not an installed package

from bench.synth.make_call import (  # noqa: E402
    ScriptError,
    load_script,
    parse_script,
    render,
    tts_available,
)

AUDIO = ROOT / "tests" / "data" / "audio"
DEMO = ROOT / "qm" / "demo"
BENCH_SCRIPTS = ROOT / "bench" / "calls" / "scripts"
needs_tts = pytest.mark.skipif(
    not (tts_available("espeak-ng") and tts_available("flite")), reason="espeak-ng/flite not installed"
)

MINIMAL = {
    "call_id": "c1",
    "agent_id": "A1",
    "agent_voice": "espeak-ng:en-us+m3",
    "customer_voice": "flite:slt",
    "turns": [{"speaker": "agent", "text": "Hello."}, {"speaker": "customer", "text": "Hi."}],
}


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(channels, n) float32 at the file's rate, decoded with PyAV like the pipeline does."""
    import av

    with av.open(str(path)) as f:
        stream = f.streams.audio[0]
        rate = stream.codec_context.sample_rate
        frames = []
        for fr in f.decode(stream):
            arr = fr.to_ndarray()
            if not fr.format.is_planar:  # packed (interleaved) samples come as one row
                arr = arr.reshape(-1, len(fr.layout.channels)).T
            frames.append(arr / 32768.0 if arr.dtype.kind == "i" else arr)
    return np.concatenate(frames, axis=1).astype(np.float32), rate


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12))


# ------------------------------------------------------------------ script validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"turns": []}, "turns must be a non-empty list"),
        ({"turns": [{"speaker": "boss", "text": "x"}]}, "speaker must be 'agent' or 'customer'"),
        ({"turns": [{"speaker": "agent", "text": "  "}]}, "text is empty"),
        ({"turns": [{"speaker": "agent", "text": "a", "overlap": 1}]}, "first turn cannot overlap"),
        (
            {"turns": [{"speaker": "agent", "text": "a"}, {"speaker": "agent", "text": "b", "overlap": 0.5}]},
            "previous turn to be the other speaker",
        ),
        ({"turns": [{"speaker": "agent", "text": "a", "pause_before": -1}]}, "pause_before must be >= 0"),
        ({"agent_voice": "say:alex"}, "engine 'say' is not one of"),
        ({"agent_voice": "slt"}, "must look like"),
        ({"sample_rate": 12345}, "sample_rate 12345"),
        ({"labels": {"greeting": "yes"}}, "labels must map"),
    ],
)
def test_bad_scripts_are_refused_with_the_field_named(change: dict, message: str) -> None:
    with pytest.raises(ScriptError, match=message) as err:
        parse_script({**MINIMAL, **change}, "bad.yaml")
    assert str(err.value).startswith("bad.yaml")


def test_missing_field_and_bad_yaml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="missing required field 'turns'"):
        parse_script({k: v for k, v in MINIMAL.items() if k != "turns"}, "s.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("call_id: [unclosed\n")
    with pytest.raises(ScriptError, match=r"broken\.yaml: not valid YAML"):
        load_script(bad)
    with pytest.raises(ScriptError, match="call script not found"):
        load_script(tmp_path / "nope.yaml")


def test_en_gb_variant_is_rewritten_because_espeak_ignores_it() -> None:
    s = parse_script({**MINIMAL, "agent_voice": "espeak-ng:en-gb+f4"})
    assert s.agent_voice.name == "en+f4"


# ------------------------------------------------------------------ committed scripts and labels


def _rubric_ids() -> set[str]:
    return {c["id"] for c in yaml.safe_load((ROOT / "rubrics" / "default.yaml").read_text())["criteria"]}


def test_bench_scripts_label_every_criterion_with_passes_and_fails() -> None:
    paths = sorted(BENCH_SCRIPTS.glob("*.yaml"))
    assert len(paths) >= 13
    scripts = [load_script(p) for p in paths]
    ids = _rubric_ids()
    seen: dict[str, set[bool | None]] = {i: set() for i in ids}
    for s in scripts:
        assert s.labels is not None, s.call_id
        assert set(s.labels) == ids, f"{s.call_id}: labels {sorted(s.labels)} != rubric {sorted(ids)}"
        for k, v in s.labels.items():
            seen[k].add(v)
    for crit, values in seen.items():
        assert {True, False} <= values, f"{crit} needs both a pass and a fail among the bench calls"
    assert len({s.call_id for s in scripts}) == len(scripts)


def test_bench_voices_differ_from_demo_voices() -> None:
    demo = {load_script(p).agent_voice for p in (DEMO / "scripts").glob("*.yaml")}
    demo |= {load_script(p).customer_voice for p in (DEMO / "scripts").glob("*.yaml")}
    for p in BENCH_SCRIPTS.glob("*.yaml"):
        s = load_script(p)
        assert s.agent_voice not in demo and s.customer_voice not in demo, p.name


# ------------------------------------------------------------------ committed audio


def test_fixture_files_are_small_and_decode_to_their_truth() -> None:
    for name in ("two_speaker.ogg", "two_speaker.mono.ogg", "one_sided.ogg", "silence_3s.wav"):
        assert (AUDIO / name).stat().st_size < 100 * 1024, name
    truth = json.loads((AUDIO / "two_speaker.json").read_text())
    stereo, rate = _decode(AUDIO / "two_speaker.ogg")
    mono, _ = _decode(AUDIO / "two_speaker.mono.ogg")
    assert stereo.shape[0] == 2 and mono.shape[0] == 1
    assert 10.0 <= truth["duration"] <= 15.0
    assert abs(stereo.shape[1] / rate - truth["duration"]) < 0.05
    gaps = [b["start"] - a["end"] for a, b in zip(truth["turns"], truth["turns"][1:], strict=False)]
    assert max(gaps) == pytest.approx(3.0, abs=0.01)
    for turn in truth["turns"]:
        seg = stereo[:, int(turn["start"] * rate) : int(turn["end"] * rate)]
        own, other = (0, 1) if turn["speaker"] == "agent" else (1, 0)
        assert _rms_db(seg[own]) > -30 and _rms_db(seg[other]) < -70, turn["text"]


def test_one_sided_and_silence_fixtures() -> None:
    stereo, _ = _decode(AUDIO / "one_sided.ogg")
    assert _rms_db(stereo[0]) > -35 and _rms_db(stereo[1]) < -80
    truth = json.loads((AUDIO / "one_sided.json").read_text())
    assert {t["speaker"] for t in truth["turns"]} == {"agent"}
    silence, rate = _decode(AUDIO / "silence_3s.wav")
    assert silence.shape == (2, 3 * rate) and not silence.any()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_demo_catalog_matches_files() -> None:
    calls = json.loads((DEMO / "calls.json").read_text())["calls"]
    assert len(calls) == 5 and len({c["agent_id"] for c in calls}) == 2
    total = 0
    for c in calls:
        audio, truth_path = DEMO / c["file"], DEMO / c["truth"]
        total += audio.stat().st_size
        truth = json.loads(truth_path.read_text())
        assert truth["call_id"] == c["call_id"] and truth["agent_id"] == c["agent_id"]
        assert c["agent_channel"] == "left" and 20 <= c["duration_s"] <= 60
        data, rate = _decode(audio)
        assert data.shape[0] == 2 and abs(data.shape[1] / rate - c["duration_s"]) < 0.05
    assert total < 1.5 * 1024 * 1024
    hold = json.loads((DEMO / "audio" / "demo-04-hold-overtalk.json").read_text())
    assert hold["holds"][0]["end"] - hold["holds"][0]["start"] >= 20 and hold["overtalk_s"] > 0


def test_demo_payment_call_speaks_a_luhn_valid_card() -> None:
    words = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
             "six": "6", "seven": "7", "eight": "8", "nine": "9"}  # fmt: skip
    truth = json.loads((DEMO / "audio" / "demo-03-payment-card.json").read_text())
    card_turn = next(t["text"] for t in truth["turns"] if "five three two" in t["text"])
    digits = "".join(words[w] for w in card_turn.lower().replace(",", " ").replace(".", " ").split() if w in words)
    assert len(digits) == 16 and _luhn_ok(digits)


# ------------------------------------------------------------------ rendering (needs TTS)


@needs_tts
def test_render_is_deterministic_and_places_turns_as_scripted() -> None:
    script = parse_script(
        {
            **MINIMAL,
            "turns": [
                {"speaker": "agent", "text": "Hello, this is Sam."},
                {"speaker": "customer", "text": "Hi Sam, my bill is wrong.", "pause_before": 2.0},
                {"speaker": "agent", "text": "Sorry about that.", "overlap": 0.4},
                {"speaker": "customer", "text": "Thanks.", "hold": 5.0},
            ],
        }
    )
    a, b = render(script), render(script)
    assert np.array_equal(a.stereo, b.stereo) and a.truth == b.truth
    t = a.truth["turns"]
    assert t[1]["start"] - t[0]["end"] == pytest.approx(2.0, abs=0.002)
    assert t[1]["end"] - t[2]["start"] == pytest.approx(0.4, abs=0.002)
    assert a.truth["overtalk_s"] == pytest.approx(0.4, abs=0.002)
    assert t[3]["start"] - t[2]["end"] == pytest.approx(5.0 + 0.6, abs=0.002)
    sr = a.script.sample_rate
    for turn in t:  # speech really starts and ends where the truth says, on the speaker's channel
        ch = 0 if turn["speaker"] == "agent" else 1
        s, e = round(turn["start"] * sr), round(turn["end"] * sr)
        edge = sr // 200  # 5 ms: truth times are rounded to 1 ms
        assert np.abs(a.stereo[s : s + edge, ch]).max() > 1e-4 < np.abs(a.stereo[e - edge : e, ch]).max()
        assert not a.stereo[s - 10 * edge : s - edge, ch].any() and not a.stereo[e + edge : e + 10 * edge, ch].any()


@needs_tts
def test_committed_fixture_truth_is_what_the_script_renders() -> None:
    for name in ("two_speaker", "one_sided"):
        call = render(load_script(AUDIO / "scripts" / f"{name}.yaml"))
        committed = json.loads((AUDIO / f"{name}.json").read_text())
        assert committed["turns"] == call.truth["turns"], f"{name}: re-run build_assets fixtures"
