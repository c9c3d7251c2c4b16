"""The one path from a recording to a stored, scored call.

``qm score``, ``qm demo``, the Prefect flows and (later) the web app all call
:class:`Pipeline`; none of them re-implements a stage.  Stages run in data-flow order:

    probe -> asr (per channel, or mono + diarise) -> turns -> redact -> utterances
          -> nlp labels -> metrics -> rubric -> redacted audio -> store

Each stage is timed (``ScoredCall.timings``) and reported to an optional progress hook,
so benches and the terminal progress bar see the same numbers.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qm.audio import TARGET_RATE, AudioWindow, ChannelLayout, probe, resolve_layout, stream_windows
from qm.config import Settings, get_settings
from qm.conversation import (
    TokenTurn,
    build_turns,
    redact_turns,
    redaction_count,
    regroup_turns,
    utterances_from_turns,
)
from qm.errors import AudioError, QMError
from qm.metrics import compute_metrics, merge_intervals
from qm.nlp.redaction import redaction_key
from qm.sound import BRIDGE_S, sound_intervals
from qm.types import AudioInfo, CallResult, Utterance, Word

log = logging.getLogger("qm.pipeline")

ProgressHook = Callable[[str, str], None]  # (stage, "start" | "end")


@dataclass
class ScoredCall:
    """The pipeline's output: the contract result plus what operators and benches want to see."""

    result: CallResult
    layout: str
    timings: dict[str, float] = field(default_factory=dict)
    transcript_cached: bool = False
    redacted_audio: Path | None = None
    diarization: dict[str, Any] | None = None
    turns: list[TokenTurn] = field(default_factory=list)  # redacted, timed tokens per turn

    @property
    def words(self) -> list[Word]:
        return [w for t in self.turns for w in t.as_words()]

    def to_contract(self) -> dict[str, Any]:
        return self.result.to_contract()


def default_call_id(info: AudioInfo) -> str:
    """Stable id for a recording: file stem plus a hash prefix, so a re-run finds the same call."""
    stem = Path(info.path).stem[:80] or "call"
    return f"{stem}-{info.sha256[:8]}"


def _mono(samples: np.ndarray) -> np.ndarray:
    """One signal from a window's (channels, n) samples: the mean of the channels."""
    return samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]


def _window_sound(window: AudioWindow, layout: ChannelLayout,
                  mono: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Hold music in one window, read from the agent side or the mix of a mono call (see qm.sound).

    ``mono``: the window's mix when the caller has already made it (the transcriber needs it too).
    """
    samples = window.samples
    if layout.is_mixed or samples.shape[0] == 1:
        signal = mono if mono is not None else _mono(samples)
    else:
        signal = samples[layout.agent]
    return sound_intervals(signal, TARGET_RATE, window.offset_s)


def _dual_mono(info: AudioInfo, threshold: float = 0.98) -> bool:
    """Dual-mono recordings (one mix copied to both channels) are common; they need diarisation.

    Judged on the first 30 s, which is where a recorder's channel set-up shows.
    """
    samples = next(stream_windows(info, window_s=30.0, search_s=1.0)).samples
    if samples.shape[1] < 1600:
        return False
    a, b = samples[0], samples[1]
    if float(np.abs(a).max()) < 1e-4 or float(np.abs(b).max()) < 1e-4:
        return False
    return float(np.corrcoef(a, b)[0, 1]) > threshold


class Pipeline:
    """Loads models lazily and once; safe to reuse for a whole batch."""

    def __init__(self, settings: Settings | None = None, progress: ProgressHook | None = None) -> None:
        self.settings = settings or get_settings()
        self.progress = progress
        self._store = None

    # -- components (lazy, cached per process) -----------------------------------------------------
    @property
    def transcriber(self):
        from qm.asr import get_transcriber

        s = self.settings
        return get_transcriber(s.asr_model, s.asr_compute_type, s.asr_threads, s.asr_beam_size, s.language,
                               str(s.data_dir), s.allow_download)

    @property
    def store(self):
        if self._store is None:
            from qm.store import open_store

            self._store = open_store(self.settings.resolved_database_url)
        return self._store

    def asr_model_name(self) -> str:
        from qm.asr import resolve_model

        return resolve_model(self.settings.asr_model, self.settings.data_dir, self.settings.allow_download).name

    @contextmanager
    def _stage(self, name: str, timings: dict[str, float]) -> Iterator[None]:
        if self.progress:
            self.progress(name, "start")
        t0 = time.perf_counter()
        try:
            yield
        finally:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            if self.progress:
                self.progress(name, "end")

    # -- public entry points -------------------------------------------------------------------------
    def score(
        self,
        path: str | Path,
        agent_id: str | None,
        call_id: str | None = None,
        rubric: str | None = None,
        agent_channel: str | None = None,
        metadata: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        save: bool = True,
        source_uri: str | None = None,
    ) -> ScoredCall:
        """Score one recording end to end and (by default) store it; raises AudioError for bad input.

        ``source_uri`` is where the recording really lives (e.g. ``s3://…``) when ``path`` is a local copy.
        """
        timings: dict[str, float] = {}
        with self._stage("probe", timings):
            info = probe(path, self.settings.max_duration_s)
            layout = resolve_layout(info, ChannelLayout.parse(agent_channel or self.settings.agent_channel))
            if info.channels == 2 and not layout.is_mixed and not layout.explicit and _dual_mono(info):
                log.warning("%s: both channels carry the same signal; treating the call as mono", info.path)
                layout = ChannelLayout(None, None)
        call_id = call_id or default_call_id(info)
        asr_name = self.asr_model_name()
        # a transcript redacted by an older redactor (or for other types) is not reused: transcribed again,
        # its stored tokens are replaced, so a redaction upgrade reaches recordings scored again
        redaction = redaction_key(self.settings.redact_types)
        cached = self.store.get_transcript(info.sha256, asr_name, layout.describe(), redaction) if save else None
        diar: dict[str, Any] | None = None
        if cached is not None:
            language, token_json, stored_sound = cached
            turns = regroup_turns([TokenTurn.from_json(t) for t in token_json])
            if stored_sound is None:  # cached before sound was kept: one cheap decode, no Whisper
                with self._stage("sound", timings):
                    sound = merge_intervals((iv for w in stream_windows(info) for iv in _window_sound(w, layout)),
                                            BRIDGE_S)
            else:
                sound = [(float(s), float(e)) for s, e in stored_sound]
        else:
            words, diar, sound = self._transcribe(info, layout, timings)
            with self._stage("turns", timings):
                raw_turns = build_turns(words)
            with self._stage("redact", timings):
                from qm.nlp.redaction import get_redactor

                turns, _ = redact_turns(raw_turns, get_redactor())
            language = self.settings.language
        result = self._score_turns(info, turns, call_id, agent_id, asr_name, language, rubric,
                                   timings, sound)
        redacted_path = None
        if save:
            if self.settings.redact_audio:
                with self._stage("redacted_audio", timings):
                    redacted_path = self._write_redacted_audio(info, turns, call_id)
            with self._stage("store", timings):
                self.store.save(
                    result, layout=layout.describe(), source_uri=source_uri or str(Path(info.path).resolve()),
                    transcript_tokens=[t.to_json() for t in turns], nlp_version=self._nlp_version,
                    sound=[[s, e] for s, e in sound], metadata=metadata,
                    redacted_audio_path=str(redacted_path) if redacted_path else None,
                    started_at=started_at, redaction=redaction,
                )
        return ScoredCall(result, layout.describe(), timings, cached is not None, redacted_path, diar, turns)

    def redact_again(self, on_call: Callable[[str, str], None] | None = None) -> dict[str, str]:
        """Transcribe and redact again every stored call whose transcript carries an older redaction.

        Raw words are never stored, so a redactor upgrade (or a change of ``QM_REDACT_TYPES``) reaches an
        old call only through its recording: each is scored again from its ``source_uri`` with the agent,
        channel layout and metadata it was stored with, which replaces its stored tokens, utterances and
        result. Returns ``{call_id: outcome}``; a call whose recording is not a readable local file here
        keeps its old text, and the outcome says so, so ops can fetch the audio or delete the call.
        """
        outcomes: dict[str, str] = {}
        for c in self.store.calls_redacted_otherwise(redaction_key(self.settings.redact_types)):
            path = Path(c.source_uri)
            if "://" in c.source_uri or not path.is_file():
                outcome = f"recording not readable here ({c.source_uri}); its stored text keeps the old redaction"
            else:
                try:
                    self.score(path, c.agent_id, call_id=c.call_id, agent_channel=c.channel_layout,
                               metadata=c.metadata, started_at=c.started_at, source_uri=c.source_uri)
                    outcome = "transcribed and redacted again"
                except QMError as exc:
                    outcome = f"failed: {exc}"
            outcomes[c.call_id] = outcome
            if on_call is not None:
                on_call(c.call_id, outcome)
        return outcomes

    def rescore(self, call_id: str, rubric: str | None = None) -> ScoredCall:
        """Re-score a stored call (e.g. with a new rubric) from its cached transcript: no Whisper."""
        timings: dict[str, float] = {}
        found = self.store.find_transcript_for_call(call_id)
        if found is None:
            raise AudioError(call_id, "no stored call with a cached transcript under this id")
        call, tr = found
        info = AudioInfo(call.source_uri, call.duration_s, call.channels, call.sample_rate, call.audio_sha256,
                         call.codec, "")
        turns = regroup_turns([TokenTurn.from_json(t) for t in tr.tokens])
        sound = [(float(s), float(e)) for s, e in (tr.sound or [])]
        result = self._score_turns(info, turns, call.id, call.agent_id, tr.asr_model, tr.language,
                                   rubric, timings, sound)
        with self._stage("store", timings):
            self.store.save(result, layout=call.channel_layout, source_uri=call.source_uri,
                            transcript_tokens=[t.to_json() for t in turns], nlp_version=self._nlp_version,
                            sound=tr.sound, redacted_audio_path=call.redacted_audio_path, metadata=call.call_metadata,
                            started_at=call.started_at)
        return ScoredCall(result, call.channel_layout, timings, True, None, None, turns)

    # -- stages --------------------------------------------------------------------------------------
    def _transcribe(self, info: AudioInfo, layout: ChannelLayout,
                    timings: dict[str, float]) -> tuple[list[Word], dict[str, Any] | None, list[tuple[float, float]]]:
        words: list[Word] = []
        diar_reports = []
        sound: list[tuple[float, float]] = []
        for window in stream_windows(info):
            mono = _mono(window.samples) if layout.is_mixed else None
            with self._stage("sound", timings):
                sound.extend(_window_sound(window, layout, mono))
            if mono is not None:
                with self._stage("asr", timings):
                    ws = list(self.transcriber.transcribe(mono, window.offset_s, "unknown", 0))
                with self._stage("diarize", timings):
                    from qm.diarize import diarize

                    labelled, report = diarize(ws, mono, window.offset_s)
                words.extend(labelled)
                diar_reports.append(report)
            else:
                for ch, speaker in ((layout.agent, "agent"), (layout.customer, "customer")):
                    with self._stage("asr", timings):
                        words.extend(self.transcriber.transcribe(window.samples[ch], window.offset_s,
                                                                 speaker, int(ch)))  # type: ignore[arg-type]
        diar = None
        if diar_reports:
            diar = {
                "separation": round(float(np.mean([r.separation for r in diar_reports])), 3),
                "agent_found": all(r.agent_cluster is not None for r in diar_reports),
                "unknown_words": sum(r.unknown_words for r in diar_reports),
            }
        return words, diar, merge_intervals(sound, BRIDGE_S)  # rejoin a run cut at a window edge

    def _score_turns(self, info: AudioInfo, turns: list[TokenTurn], call_id: str,
                     agent_id: str | None, asr_name: str, language: str, rubric_name: str | None,
                     timings: dict[str, float], sound: list[tuple[float, float]] | None = None) -> CallResult:
        from qm.nlp.labeller import get_labeller
        from qm.rubric import ScoringInput, load_rubric

        with self._stage("utterances", timings):
            utterances: list[Utterance] = utterances_from_turns(turns)
        with self._stage("nlp", timings):
            labels = get_labeller().label([u.text for u in utterances], [u.speaker for u in utterances])
            for u, lab in zip(utterances, labels, strict=True):
                u.labels = lab
        words = [w for t in turns for w in t.as_words()]
        with self._stage("metrics", timings):
            metrics = compute_metrics(words, utterances, info.duration_s, sound=sound or ())
        with self._stage("rubric", timings):
            rubric = load_rubric(rubric_name or self.settings.default_rubric, self.settings.rubrics_dir)
            outcome = rubric.score(ScoringInput(utterances=utterances, words=words, metrics=metrics,
                                                duration_s=info.duration_s, sound=sound or ()))
        return CallResult(
            call_id=call_id, agent_id=agent_id, audio=info, asr_model=asr_name, language=language,
            utterances=utterances, metrics=metrics, rubric_id=rubric.id, rubric_version=rubric.version,
            criteria=outcome.criteria, score=outcome.score, auto_failed=outcome.auto_failed,
            coaching=outcome.coaching, redactions=redaction_count(turns),
        )

    def _write_redacted_audio(self, info: AudioInfo, turns: list[TokenTurn], call_id: str) -> Path:
        from qm.redacted_audio import write_redacted_copy

        spans = [(t.start, t.end) for turn in turns for t in turn.tokens if t.redacted]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)
        dst = self.settings.data_dir / "audio" / f"{safe}.redacted.flac"
        dst.parent.mkdir(parents=True, exist_ok=True)
        return write_redacted_copy(Path(info.path), dst, spans)

    @cached_property
    def _nlp_version(self) -> str:
        """Hash of the head files, so a stored result says which classifiers produced it.

        Computed once per pipeline: the heads are loaded once per process too.
        """
        h = hashlib.sha256()
        heads = Path(self.settings.heads_dir)
        if heads.is_dir():
            for f in sorted(heads.rglob("*")):
                if f.is_file():
                    h.update(f.name.encode())
                    h.update(f.read_bytes())
        return h.hexdigest()[:12]
