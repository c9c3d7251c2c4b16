"""Redacted audio copy: real signals generated with numpy and written/read with PyAV (no ffmpeg CLI)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from qm.redacted_audio import TONE_DBFS, spans_from_words, write_redacted_copy
from qm.types import Word

RATE = 8000


def write_audio(path: Path, data: np.ndarray, rate: int, codec: str = "pcm_s16le", fmt: str = "s16") -> Path:
    layout = {1: "mono", 2: "stereo"}[data.shape[1]]
    with av.open(str(path), "w") as out:
        st = out.add_stream(codec, rate=rate)
        st.layout = layout
        st.format = fmt
        for s in range(0, len(data), 1000):  # odd frame size on purpose
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[s : s + 1000]).reshape(1, -1),
                                           format=fmt, layout=layout)
            f.sample_rate = rate
            f.pts = s
            f.time_base = Fraction(1, rate)
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    return path


def read_audio(path: Path) -> tuple[np.ndarray, int, str]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        ch = s.codec_context.channels
        data = np.concatenate([f.to_ndarray().reshape(-1, ch) for f in c.decode(s)])
        return data, s.codec_context.sample_rate, s.codec_context.name


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """6 s of different 'speech-like' content on each channel: chirps plus noise."""
    rng = np.random.default_rng(42)
    t = np.arange(6 * RATE) / RATE
    left = 0.3 * np.sin(2 * np.pi * (200 + 80 * t) * t) + 0.05 * rng.standard_normal(t.size)
    right = 0.25 * np.sin(2 * np.pi * (300 + 40 * np.sin(t)) * t) + 0.05 * rng.standard_normal(t.size)
    data = (np.stack([left, right], axis=1) * 32767).clip(-32768, 32767).astype(np.int16)
    path = write_audio(tmp_path_factory.mktemp("audio") / "call.wav", data, RATE)
    return path, data


def window(start: float, end: float, pad: float, rate: int = RATE) -> slice:
    return slice(int(np.floor((start - pad) * rate)), int(np.ceil((end + pad) * rate)))


def test_tone_replaces_spans_on_all_channels_and_keeps_the_rest(stereo_call, tmp_path: Path) -> None:
    src, original = stereo_call
    spans = [(1.0, 1.5), (3.2, 3.4)]
    dst = write_redacted_copy(src, tmp_path / "out.flac", spans, mode="tone", pad_s=0.15)
    out, rate, codec = read_audio(dst)
    assert (codec, rate) == ("flac", RATE)
    assert out.shape == original.shape  # duration and channel count preserved
    mask = np.zeros(len(original), dtype=bool)
    for s, e in spans:
        w = window(s, e, 0.15)
        mask[w] = True
        seg = out[w].astype(np.float64)
        t = np.arange(w.start, w.stop) / RATE
        ref = np.sin(2 * np.pi * 1000.0 * t)
        for ch in range(2):
            assert np.corrcoef(seg[:, ch], ref)[0, 1] > 0.999
            rms_dbfs = 20 * np.log10(np.sqrt(np.mean(seg[:, ch] ** 2)) * np.sqrt(2) / 32767)
            assert abs(rms_dbfs - TONE_DBFS) < 0.5
            assert np.corrcoef(seg[:, ch], original[w][:, ch].astype(np.float64))[0, 1] < 0.1
    kept = ~mask
    assert np.array_equal(out[kept], original[kept])  # lossless outside the spans
    for ch in range(2):
        assert np.corrcoef(out[kept][:, ch].astype(float), original[kept][:, ch].astype(float))[0, 1] > 0.9999


def test_silence_mode_zeroes_the_padded_span_only(stereo_call, tmp_path: Path) -> None:
    src, original = stereo_call
    dst = write_redacted_copy(src, tmp_path / "s.flac", [(2.0, 2.5)], mode="silence", pad_s=0.1)
    out, _, _ = read_audio(dst)
    w = window(2.0, 2.5, 0.1)
    assert not out[w].any()
    assert np.array_equal(out[: w.start], original[: w.start])
    assert np.array_equal(out[w.stop :], original[w.stop :])
    assert original[w.start - 10 : w.start].any()  # the samples just outside were real audio


def test_empty_spans_give_an_equal_copy(stereo_call, tmp_path: Path) -> None:
    src, original = stereo_call
    out, rate, _ = read_audio(write_redacted_copy(src, tmp_path / "copy.flac", []))
    assert rate == RATE
    assert np.array_equal(out, original)


def test_spans_beyond_the_end_are_clipped(stereo_call, tmp_path: Path) -> None:
    src, original = stereo_call
    out, _, _ = read_audio(write_redacted_copy(src, tmp_path / "c.flac", [(5.5, 60.0), (100.0, 200.0)],
                                               mode="silence", pad_s=0.0))
    assert out.shape == original.shape
    assert not out[int(5.5 * RATE) :].any()
    assert np.array_equal(out[: int(5.5 * RATE)], original[: int(5.5 * RATE)])


def test_negative_and_overlapping_spans(stereo_call, tmp_path: Path) -> None:
    src, original = stereo_call
    out, _, _ = read_audio(write_redacted_copy(src, tmp_path / "o.flac", [(-1.0, 0.2), (0.1, 0.5), (0.4, 0.6)],
                                               mode="silence", pad_s=0.0))
    assert not out[: int(0.6 * RATE)].any()
    assert np.array_equal(out[int(0.6 * RATE) :], original[int(0.6 * RATE) :])


def test_mono_32_bit_source_keeps_one_channel_and_24_bit_precision(tmp_path: Path) -> None:
    rate = 16000
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((rate * 2, 1)) * 2**27).clip(-(2**31), 2**31 - 1).astype(np.int32)
    src = write_audio(tmp_path / "m.wav", data, rate, codec="pcm_s32le", fmt="s32")
    out, out_rate, _ = read_audio(write_redacted_copy(src, tmp_path / "m.flac", [(0.5, 0.7)], mode="tone"))
    assert out.shape == data.shape and out_rate == rate
    w = window(0.5, 0.7, 0.15, rate)
    outside = np.r_[0 : w.start, w.stop : len(data)]
    assert np.abs(out[outside].astype(np.int64) - data[outside]).max() < 256  # FLAC stores 24 bits
    t = np.arange(w.start, w.stop) / rate
    assert np.corrcoef(out[w][:, 0].astype(float), np.sin(2 * np.pi * 1000 * t))[0, 1] > 0.999


def test_writes_atomically_and_overwrites(stereo_call, tmp_path: Path) -> None:
    src, _ = stereo_call
    dst = tmp_path / "sub" / "call.flac"
    dst.parent.mkdir()
    dst.write_bytes(b"old")
    write_redacted_copy(src, dst, [(1.0, 2.0)])
    assert dst.read_bytes()[:4] == b"fLaC"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["call.flac"]  # no temp file left


def test_undecodable_source_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 4)
    dst = tmp_path / "out" / "bad.flac"
    with pytest.raises(ValueError, match=r"bad\.wav"):
        write_redacted_copy(bad, dst, [(0.0, 1.0)])
    assert not dst.exists()
    assert list(dst.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spans": [(2.0, 1.0)]}, "ends before it starts"),
        ({"spans": [(float("nan"), 1.0)]}, "non-finite"),
        ({"spans": [(1.0,)]}, "span 0"),
        ({"spans": [], "mode": "beep"}, "mode"),
        ({"spans": [], "pad_s": -0.1}, "pad_s"),
    ],
)
def test_bad_arguments_are_named(stereo_call, tmp_path: Path, kwargs: dict, match: str) -> None:
    src, _ = stereo_call
    with pytest.raises(ValueError, match=match):
        write_redacted_copy(src, tmp_path / "x.flac", **kwargs)
    assert not (tmp_path / "x.flac").exists()


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        write_redacted_copy(tmp_path / "nope.wav", tmp_path / "x.flac", [])


def test_spans_from_words_merges_neighbours() -> None:
    ws = [Word(0.0, 0.4, " My", 0.9), Word(0.4, 0.8, " card", 0.9), Word(0.9, 1.3, " 4111", 0.9),
          Word(1.3, 1.7, " 1111", 0.9), Word(2.5, 2.9, " thanks", 0.9), Word(3.0, 3.2, " Sarah.", 0.9)]
    types = [None, None, "CARD", "CARD", None, "NAME"]
    assert spans_from_words(ws, types) == [(0.9, 1.7), (3.0, 3.2)]
    assert spans_from_words([], []) == []
    with pytest.raises(ValueError, match="word types"):
        spans_from_words(ws, types[:2])
