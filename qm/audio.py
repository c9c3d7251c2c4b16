"""Audio ingest: validate a recording, describe it, and stream it as 16 kHz float32 windows.

Anything FFmpeg decodes is accepted (wav incl. 8-bit and A-law/µ-law, flac, mp3, ogg/opus, m4a…).
Decoding is streamed frame by frame and handed on in windows cut at quiet points, so a
three-hour call never sits decoded in memory: at most one window per channel does.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from qm.errors import AudioError
from qm.types import AudioInfo

TARGET_RATE = 16_000
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ChannelLayout:
    """Which decoded channel carries which speaker.

    ``agent``/``customer`` are channel indexes; ``None`` for both means a mono mix that
    must be separated by diarisation.  Parse user input with :meth:`parse`.
    """

    agent: int | None = 0
    customer: int | None = 1
    explicit: bool = False  # given as agent=I,customer=J (required for files with more than 2 channels)

    @property
    def is_mixed(self) -> bool:
        return self.agent is None

    @classmethod
    def parse(cls, spec: str | None) -> ChannelLayout:
        """Accept ``left``/``right`` (agent side of a stereo call), ``mono``, or ``agent=I,customer=J``."""
        spec = (spec or "left").strip().lower()
        if spec == "left":
            return cls(0, 1)
        if spec == "right":
            return cls(1, 0)
        if spec in ("mono", "mixed"):
            return cls(None, None)
        parts = dict(p.split("=", 1) for p in spec.split(",") if "=" in p)
        try:
            agent, customer = int(parts["agent"]), int(parts["customer"])
        except (KeyError, ValueError):
            raise AudioError(
                "--agent-channel", f"cannot parse {spec!r}: use left, right, mono or agent=I,customer=J"
            ) from None
        if agent == customer or min(agent, customer) < 0:
            raise AudioError("--agent-channel", f"{spec!r}: agent and customer need two distinct channels")
        return cls(agent, customer, explicit=True)

    def describe(self) -> str:
        return "mono" if self.is_mixed else f"agent={self.agent},customer={self.customer}"


def resolve_layout(info: AudioInfo, requested: ChannelLayout) -> ChannelLayout:
    """Fit the requested layout to the file: mono files are mixed; >2 channels need an explicit map."""
    if info.channels == 1:
        return ChannelLayout(None, None)
    if requested.is_mixed:
        return requested
    if info.channels > 2 and not requested.explicit:
        raise AudioError(
            info.path,
            f"has {info.channels} channels; say which carries the agent and which the customer "
            "with --agent-channel agent=I,customer=J",
        )
    top = max(requested.agent or 0, requested.customer or 0)
    if top >= info.channels:
        raise AudioError(info.path, f"channel {top} requested but the file has {info.channels} channel(s)")
    return requested


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise AudioError(path, f"not a readable audio file ({_ffmpeg_reason(exc)})") from None


def _ffmpeg_reason(exc: Exception) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.split(":")[0].strip() if msg else type(exc).__name__


def probe(path: str | Path, max_duration_s: float | None = None) -> AudioInfo:
    """Validate ``path`` and describe it; raises :class:`AudioError` with a one-line reason.

    The whole stream is decoded once (without resampling, so it is cheap) because corrupt and
    truncated files often have a plausible header, and the decoded length is the true duration.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(p, "no such file")
    if p.is_dir():
        raise AudioError(p, "is a directory, not an audio file")
    if not os.access(p, os.R_OK):
        raise AudioError(p, "permission denied")
    if p.stat().st_size == 0:
        raise AudioError(p, "empty file (0 bytes)")
    container = _open(p)
    try:
        if not container.streams.audio:
            raise AudioError(p, "contains no audio stream")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        channels = ctx.channels or len(ctx.layout.channels)
        rate = ctx.sample_rate
        if not channels or not rate:
            raise AudioError(p, "audio stream has no channels or sample rate")
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += frame.samples
        except av.error.FFmpegError as exc:
            raise AudioError(p, f"corrupt or truncated audio ({_ffmpeg_reason(exc)})") from None
        if decoded == 0:
            raise AudioError(p, "zero-length audio: the stream holds no samples")
        actual = decoded / rate
        if duration and duration > 0 and actual < 0.9 * duration and duration - actual > 0.5:
            raise AudioError(
                p, f"truncated: the header says {duration:.1f} s but only {actual:.1f} s of audio decodes"
            )
        duration = actual
        codec = ctx.name
        fmt = container.format.name
    finally:
        container.close()
    if max_duration_s is not None and duration > max_duration_s:
        raise AudioError(
            p,
            f"{duration / 3600:.2f} h long, over the configured maximum of {max_duration_s / 3600:.2f} h "
            "(QM_MAX_DURATION_S)",
        )
    return AudioInfo(
        path=str(p), duration_s=duration, channels=int(channels), sample_rate=int(rate),
        sha256=sha256_of(p), codec=codec, container=fmt,
    )


def _decoded_frames(path: Path, channels: int) -> Iterator[np.ndarray]:
    """Yield (channels, n) float32 blocks at 16 kHz, resampled by FFmpeg."""
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        layout = stream.codec_context.layout
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=TARGET_RATE)
        try:
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(channels, -1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(channels, -1)
        except av.error.FFmpegError as exc:
            raise AudioError(path, f"corrupt or truncated audio ({_ffmpeg_reason(exc)})") from None
    finally:
        container.close()


@dataclass(frozen=True, slots=True)
class AudioWindow:
    """A slice of the recording: ``samples`` is (channels, n) float32 at 16 kHz from ``offset_s``."""

    offset_s: float
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / TARGET_RATE


def stream_windows(info: AudioInfo, window_s: float = 600.0, search_s: float = 20.0) -> Iterator[AudioWindow]:
    """Stream the recording in windows of about ``window_s``, each cut at the quietest 100 ms
    in the last ``search_s`` seconds so that a cut rarely splits a word."""
    path = Path(info.path)
    win = int(window_s * TARGET_RATE)
    search = int(search_s * TARGET_RATE)
    parts: list[np.ndarray] = []
    buffered = 0
    offset = 0
    for block in _decoded_frames(path, info.channels):
        parts.append(block)
        buffered += block.shape[1]
        if buffered >= win + search:
            buf = np.concatenate(parts, axis=1)
            cut = _quiet_cut(buf, win - search, win)
            yield AudioWindow(offset / TARGET_RATE, np.ascontiguousarray(buf[:, :cut]))
            offset += cut
            rest = buf[:, cut:]
            parts, buffered = [rest], rest.shape[1]
    if buffered:
        buf = np.concatenate(parts, axis=1)
        yield AudioWindow(offset / TARGET_RATE, np.ascontiguousarray(buf))


def _quiet_cut(buf: np.ndarray, lo: int, hi: int) -> int:
    hop = TARGET_RATE // 10
    seg = buf[:, lo:hi]
    n = seg.shape[1] // hop
    if n == 0:
        return hi
    energy = (seg[:, : n * hop] ** 2).sum(axis=0).reshape(n, hop).sum(axis=1)
    return lo + int(np.argmin(energy)) * hop + hop // 2


def load_all(info: AudioInfo) -> np.ndarray:
    """The whole recording at 16 kHz, (channels, n). For short clips and tests only."""
    return np.concatenate([w.samples for w in stream_windows(info, window_s=1e9)], axis=1)
