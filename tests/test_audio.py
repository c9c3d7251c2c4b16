"""Audio ingest: every format FFmpeg decodes, and a clear one-line error for each kind of bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from audio_factory import tone, write_audio

from qm.audio import ChannelLayout, load_all, probe, resolve_layout, stream_windows
from qm.errors import AudioError


def _stereo(seconds: float = 2.0) -> np.ndarray:
    return np.stack([tone(seconds, 300), tone(seconds, 700)])


@pytest.mark.parametrize(
    ("name", "codec", "container", "rate"),
    [
        ("pcm.wav", "pcm_s16le", None, 16000),
        ("alaw.wav", "pcm_alaw", None, 8000),
        ("mulaw.wav", "pcm_mulaw", None, 8000),
        ("u8.wav", "pcm_u8", None, 8000),
        ("call.mp3", "libmp3lame", None, 16000),
        ("call.ogg", "libopus", "ogg", 48000),
        ("call.flac", "flac", None, 16000),
    ],
)
def test_decodes_formats_keeping_channels_apart(tmp_path: Path, name: str, codec: str, container: str | None,
                                                rate: int) -> None:
    x = np.stack([tone(2.0, 300, rate), tone(2.0, 700, rate)])
    info = probe(write_audio(tmp_path / name, x, rate, codec, container))
    assert info.channels == 2
    assert info.sample_rate == rate
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert len(info.sha256) == 64
    audio = load_all(info)
    assert audio.shape[0] == 2
    assert audio.shape[1] == pytest.approx(32000, abs=1600)
    # left is 300 Hz, right is 700 Hz: the channels were not mixed or swapped
    spec_l = np.abs(np.fft.rfft(audio[0, 4000:12000]))
    spec_r = np.abs(np.fft.rfft(audio[1, 4000:12000]))
    freqs = np.fft.rfftfreq(8000, 1 / 16000)
    assert freqs[spec_l.argmax()] == pytest.approx(300, abs=10)
    assert freqs[spec_r.argmax()] == pytest.approx(700, abs=10)


def test_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    p = write_audio(tmp_path / "a.wav", _stereo(), 16000)
    assert probe(p).sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: ((d / "empty.wav").write_bytes(b"") and d / "empty.wav") or d / "empty.wav", "empty file"),
        (lambda d: (d / "noise.wav").write_bytes(bytes(range(256)) * 8) and d / "noise.wav", "not a readable audio"),
        (lambda d: (d / "text.mp3").write_text("hello, I am not audio\n" * 20) and d / "text.mp3",
         "not a readable audio"),
        (lambda d: d, "is a directory"),
    ],
)
def test_bad_input_gets_one_clear_reason(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path)
    with pytest.raises(AudioError) as err:
        probe(path)
    assert reason in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    full = write_audio(tmp_path / "full.mp3", _stereo(6.0), 16000, "libmp3lame")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 4])
    with pytest.raises(AudioError, match="truncated"):
        probe(cut)


def test_zero_length_audio(tmp_path: Path) -> None:
    import wave

    p = tmp_path / "zero.wav"
    with wave.open(str(p), "wb") as w:  # a valid header with no sample frames
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    assert p.stat().st_size > 0
    with pytest.raises(AudioError, match="zero-length"):
        probe(p)


def test_six_channels_need_a_mapping(tmp_path: Path) -> None:
    x = np.stack([tone(1.0, 200 + 100 * i) for i in range(6)])
    info = probe(write_audio(tmp_path / "six.wav", x, 16000))
    assert info.channels == 6
    with pytest.raises(AudioError, match="6 channels"):
        resolve_layout(info, ChannelLayout.parse("left"))
    layout = resolve_layout(info, ChannelLayout.parse("agent=2,customer=5"))
    assert (layout.agent, layout.customer) == (2, 5)
    with pytest.raises(AudioError, match="channel 7"):
        resolve_layout(info, ChannelLayout.parse("agent=7,customer=1"))


def test_layout_parsing() -> None:
    assert ChannelLayout.parse("right").agent == 1
    assert ChannelLayout.parse("mono").is_mixed
    with pytest.raises(AudioError, match="cannot parse"):
        ChannelLayout.parse("middle")


def test_mono_file_is_treated_as_mixed(tmp_path: Path) -> None:
    info = probe(write_audio(tmp_path / "m.wav", tone(1.0)[None, :], 16000))
    assert resolve_layout(info, ChannelLayout.parse("left")).is_mixed


def test_over_maximum_duration_is_refused(tmp_path: Path) -> None:
    p = write_audio(tmp_path / "long.wav", _stereo(3.0), 16000)
    with pytest.raises(AudioError, match="over the configured maximum"):
        probe(p, max_duration_s=2.0)


def test_windows_cover_the_recording_exactly_and_cut_at_quiet_points(tmp_path: Path) -> None:
    rate = 16000
    # 50 s of tone with a silent gap around 19 s; 20 s windows should cut inside that gap
    x = tone(50.0, 440, rate)
    x[int(18.6 * rate): int(19.4 * rate)] = 0.0
    info = probe(write_audio(tmp_path / "w.wav", np.stack([x, x]), rate))
    windows = list(stream_windows(info, window_s=20.0, search_s=5.0))
    assert len(windows) >= 2
    total = sum(w.samples.shape[1] for w in windows)
    assert total == pytest.approx(50 * rate, abs=rate // 100)
    assert 18.6 <= windows[1].offset_s <= 19.4
    for a, b in itertools.pairwise(windows):
        assert b.offset_s == pytest.approx(a.offset_s + a.duration_s, abs=1e-6)
