"""One call as the criterion kinds see it: utterances by speaker, windows, shared embeddings.

Embeddings of every utterance are computed at most once per call and shared by
all meaning-based criteria, because encoding dominates scoring time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from qm.metrics import Timeline
from qm.rubric.spec import EmbeddingSpace, SpeakerSel, Window
from qm.types import Metrics, Utterance, Word


@dataclass(slots=True)
class ScoringInput:
    """Everything the rubric engine reads about one call."""

    utterances: Sequence[Utterance]
    words: Sequence[Word]
    metrics: Metrics
    duration_s: float
    sound: Sequence[tuple[float, float]] = ()  # non-speech sound on the line (qm.sound), for dead air vs hold


class CallView:
    def __init__(self, call: ScoringInput, encoder: Callable[[], Any]) -> None:
        self.utterances: list[Utterance] = list(call.utterances)
        self.words: list[Word] = list(call.words)
        self.metrics = call.metrics
        self.sound = list(call.sound)
        last_end = max((u.end for u in self.utterances), default=0.0)
        self.duration = max(call.duration_s if call.duration_s > 0 else 0.0, last_end)
        self._encoder = encoder
        self._labeller_embeddings: np.ndarray | None = None
        self._pos = {id(u): i for i, u in enumerate(self.utterances)}
        # verdicts of the criteria evaluated so far (the engine fills it in dependency order)
        self.verdicts: dict[str, Any] = {}

    def by_speaker(self, speaker: SpeakerSel) -> list[Utterance]:
        if speaker == "any":
            return list(self.utterances)
        return [u for u in self.utterances if u.speaker == speaker]

    def position(self, u: Utterance) -> int:
        return self._pos[id(u)]

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline.from_words(self.words, sound=self.sound)

    @cached_property
    def embeddings(self) -> np.ndarray:
        texts = [u.text for u in self.utterances]
        return np.asarray(self._encoder().encode(texts), dtype=np.float32)

    def embedding(self, u: Utterance, space: EmbeddingSpace = "similarity") -> np.ndarray:
        """``u``'s vector in the plain similarity space, or in the space the classifier heads read
        (``labeller``: the adapted encoder, whose vectors the pipeline has already computed once)."""
        if space == "similarity":
            return self.embeddings[self.position(u)]
        if self._labeller_embeddings is None:
            from qm.nlp.encoder import get_encoder

            texts = [t.text for t in self.utterances]
            self._labeller_embeddings = np.asarray(get_encoder().encode(texts), dtype=np.float32)
        return self._labeller_embeddings[self.position(u)]

    def window(self, utts: list[Utterance], window: Window | None) -> list[Utterance]:
        """The part of ``utts`` (one speaker's utterances, in order) that ``window`` selects."""
        if window is None:
            return utts
        if window.first_seconds is not None:
            return [u for u in utts if u.start < window.first_seconds]
        if window.last_seconds is not None:
            return [u for u in utts if u.end > self.duration - window.last_seconds]
        if window.first_utterances is not None:
            return utts[: window.first_utterances]
        if window.last_utterances is not None:
            return utts[-window.last_utterances:]
        turns = sorted({u.turn for u in utts})
        if window.first_turns is not None:
            keep = set(turns[: window.first_turns])
        elif window.last_turns is not None:
            keep = set(turns[-window.last_turns:])
        else:
            return utts
        return [u for u in utts if u.turn in keep]
