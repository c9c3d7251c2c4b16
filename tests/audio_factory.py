"""Write test recordings in any codec with PyAV, so tests need no sox/ffmpeg binaries."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, channels: np.ndarray, rate: int, codec: str = "pcm_s16le",
                container: str | None = None) -> Path:
    """``channels``: (C, n) float32 in [-1, 1]."""
    channels = np.atleast_2d(channels).astype(np.float32)
    n_ch = channels.shape[0]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[n_ch]
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.codec.audio_formats[0].name if stream.codec_context.codec.audio_formats else "s16"
        block = 960 if codec in ("libopus", "opus") else 1152 if "mp3" in codec else 1024
        for s in range(0, channels.shape[1], block):
            chunk = channels[:, s : s + block]
            planar = fmt.endswith("p")
            data = chunk if planar else chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(_convert(data, fmt.rstrip("p"))),
                                               format=fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = s
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _convert(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "u8":
        return ((x + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    if kind == "s16":
        return (x * 32767).astype(np.int16)
    if kind == "s32":
        return (x * 2147483647).astype(np.int32)
    if kind == "dbl":
        return x.astype(np.float64)
    return x.astype(np.float32)


def hold_loop(seconds: float, rate: int = 16000, dbfs: float = -32.0) -> np.ndarray:
    """A quiet queue-music loop: a decaying arpeggio over a bass note, at ``dbfs`` RMS."""
    t = np.arange(int(seconds * rate)) / rate
    notes = np.array([261.63, 329.63, 392.0, 523.25, 392.0, 329.63])
    phase = t % 0.5
    env = np.minimum(1.0, phase / 0.02) * np.exp(-3.0 * phase)
    melody = np.sin(2 * np.pi * notes[(t // 0.5).astype(int) % notes.size] * t) * env
    sig = melody + 0.3 * np.sin(2 * np.pi * 130.81 * t)
    rms = float(np.sqrt(np.mean(sig ** 2))) or 1.0
    return (sig / rms * 10 ** (dbfs / 20)).astype(np.float32)
