"""Write a copy of a call recording with the PII time spans toned (or silenced) out.

Output is FLAC, chosen over Ogg/Opus because:

* it is lossless, so everything outside the redacted spans is bit-for-bit the decoded original --
  QA reviewers and any later re-transcription hear exactly what the customer said, and there is
  no codec smearing that could leak a syllable of a redacted digit into the neighbouring frames;
* it keeps the original sample rate and channel count (Opus only runs at 8/12/16/24/48 kHz and
  would resample) and so keeps the agent/customer stereo split that diarisation relies on;
* telephone audio is 8-16 kHz, so FLAC files stay small (~0.3-0.6 MB/min stereo at 8 kHz); the
  space Opus would save is not worth a lossy evidence copy.

Decoding is streamed frame by frame through PyAV: a four-hour call is never held in memory,
let alone twice.  The file is written to a temporary name next to ``dst`` and renamed into place,
so a reader never sees a half-written redacted copy (and a crash never leaves one behind).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import av
import numpy as np

if TYPE_CHECKING:
    from qm.types import Word

TONE_HZ = 1000.0
TONE_DBFS = -20.0  # low enough not to startle a reviewer, loud enough to be obviously a redaction


def spans_from_words(words: Sequence[Word], word_types: Sequence[str | None]) -> list[tuple[float, float]]:
    """Time spans of the redacted words (``WordRedaction.word_types``), neighbours merged."""
    if len(words) != len(word_types):
        raise ValueError(f"{len(words)} words but {len(word_types)} word types")
    spans: list[tuple[float, float]] = []
    for w, t in zip(words, word_types, strict=True):
        if t is None:
            continue
        if spans and w.start <= spans[-1][1] + 1e-6:
            spans[-1] = (spans[-1][0], max(spans[-1][1], w.end))
        else:
            spans.append((w.start, w.end))
    return spans


def _merge_windows(spans: Sequence[tuple[float, float]], pad_s: float, rate: int) -> list[tuple[int, int]]:
    """Padded spans as sorted, merged [start, end) sample windows; negative times clip to 0."""
    windows = []
    for i, span in enumerate(spans):
        try:
            start, end = (float(span[0]), float(span[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"span {i} must be a (start_s, end_s) pair of numbers, got {span!r}") from exc
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"span {i} has a non-finite time: {span!r}")
        if end < start:
            raise ValueError(f"span {i} ends before it starts: {span!r}")
        a = max(0, math.floor((start - pad_s) * rate))
        b = max(0, math.ceil((end + pad_s) * rate))
        if b > a:
            windows.append((a, b))
    windows.sort()
    merged: list[tuple[int, int]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def write_redacted_copy(
    src: Path,
    dst: Path,
    spans: Sequence[tuple[float, float]],
    mode: Literal["tone", "silence"] = "tone",
    pad_s: float = 0.15,
) -> Path:
    """Copy ``src`` to FLAC ``dst`` with every (padded) span replaced on all channels; returns ``dst``.

    Spans are seconds from the first decoded sample (the time axis Whisper's word timings use);
    spans past the end of the audio are clipped.  The tone is 1 kHz at -20 dBFS (or a quarter of
    the sample rate for very low rates, where 1 kHz would alias).
    """
    src, dst = Path(src), Path(dst)
    if mode not in ("tone", "silence"):
        raise ValueError(f"mode must be 'tone' or 'silence', got {mode!r}")
    if not (isinstance(pad_s, int | float) and math.isfinite(pad_s) and pad_s >= 0):
        raise ValueError(f"pad_s must be a finite number >= 0, got {pad_s!r}")
    if not src.is_file():
        raise FileNotFoundError(f"audio file {src} does not exist")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        _transcode(src, tmp, spans, mode, float(pad_s))
        with open(tmp, "rb+") as fh:  # make the bytes durable before the rename publishes them
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except av.FFmpegError as exc:
        raise ValueError(f"cannot redact {src}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def _transcode(src: Path, out_path: Path, spans: Sequence[tuple[float, float]], mode: str, pad_s: float) -> None:
    with av.open(str(src)) as inp:
        if not inp.streams.audio:
            raise ValueError(f"{src} has no audio stream")
        ins = inp.streams.audio[0]
        ctx = ins.codec_context
        rate = int(ctx.sample_rate or 0)
        channels = int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            raise ValueError(f"{src}: audio stream reports {rate} Hz and {channels} channels")
        layout = ctx.layout if ctx.layout.nb_channels == channels else av.AudioLayout(channels)
        # 24/32-bit integer sources stay 32-bit; everything else (16-bit PCM, lossy codecs) fits s16
        src_fmt = ctx.format.name if ctx.format is not None else "s16"
        fmt = "s32" if src_fmt in ("s32", "s32p") else "s16"
        full_scale = float(np.iinfo(np.int32 if fmt == "s32" else np.int16).max)
        dtype = np.int32 if fmt == "s32" else np.int16
        windows = _merge_windows(spans, pad_s, rate)
        tone_hz = min(TONE_HZ, rate / 4.0)
        amp = full_scale * 10 ** (TONE_DBFS / 20.0)

        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        with av.open(str(out_path), "w", format="flac") as out:
            ost = out.add_stream("flac", rate=rate)
            ost.layout = layout
            ost.format = fmt
            offset = 0
            w = 0  # first window that may still overlap the current frame

            def emit(frame: av.AudioFrame) -> None:
                nonlocal offset, w
                n = frame.samples
                if n == 0:
                    return
                data = frame.to_ndarray().reshape(n, channels)
                touched = False
                while w < len(windows) and windows[w][1] <= offset:
                    w += 1
                k = w
                while k < len(windows) and windows[k][0] < offset + n:
                    a = max(windows[k][0], offset) - offset
                    b = min(windows[k][1], offset + n) - offset
                    if not touched:
                        data = data.copy()
                        touched = True
                    if mode == "silence":
                        data[a:b] = 0
                    else:
                        t = np.arange(offset + a, offset + b, dtype=np.float64) / rate
                        tone = np.round(amp * np.sin(2.0 * np.pi * tone_hz * t)).astype(dtype)
                        data[a:b] = tone[:, None]
                    k += 1
                new = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(data).reshape(1, -1), format=fmt, layout=layout
                )
                new.sample_rate = rate
                new.pts = offset
                new.time_base = Fraction(1, rate)
                offset += n
                for packet in ost.encode(new):
                    out.mux(packet)

            for frame in inp.decode(ins):
                for rf in resampler.resample(frame):
                    emit(rf)
            for rf in resampler.resample(None):
                emit(rf)
            for packet in ost.encode(None):
                out.mux(packet)
