"""``phrase``: meaning match against example sentences, plus optional regular expressions.

Agents rarely say the scripted words, so exact text matching misses most
greetings and disclosures; cosine similarity of sentence embeddings
(``qm.nlp.encoder``) against a few examples catches paraphrases, and a regex
catches fixed legal wording (a disclosure must often be word-for-word) or
keywords the encoder underweights.  An utterance matches when any regex
matches or its best similarity to an example reaches ``threshold``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from qm.rubric.examples import ExampleList
from qm.rubric.kinds.presence import Match, PresenceKind, PresenceSpec
from qm.rubric.registry import PrepareContext, register_kind
from qm.rubric.view import CallView
from qm.types import Utterance

DEFAULT_THRESHOLD = 0.55


class PhraseSpec(PresenceSpec):
    kind: Literal["phrase"] = "phrase"
    examples: ExampleList = Field(default_factory=list)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, le=1)

    @model_validator(mode="after")
    def _something(self) -> PhraseSpec:
        if not self.examples and not self.regex:
            raise ValueError("give examples (sentences to match by meaning) and/or regex")
        return self


@register_kind("phrase")
class Phrase(PresenceKind):
    Spec = PhraseSpec
    spec: PhraseSpec
    uses_encoder = True

    def __init__(self, spec: PhraseSpec) -> None:
        super().__init__(spec)
        self.what = "phrase"
        self._patterns = spec.patterns()
        self._examples: np.ndarray | None = None

    def prepare(self, ctx: PrepareContext) -> None:
        if self.spec.examples and self._examples is None:
            self._examples = np.asarray(ctx.encoder().encode(self.spec.examples), dtype=np.float32)

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:
        out: list[Match] = []
        for u in utts:
            rx = any(p.search(u.text) for p in self._patterns)
            sim = 0.0
            if self._examples is not None and u.text.strip():
                sim = float(np.max(self._examples @ call.embedding(u)))
            ok = rx or sim >= self.spec.threshold
            how = "regex" if rx else f"similarity {sim:.2f}"
            out.append(Match(u, 1.0 if rx else sim, ok, how))
        return out

    def summary(self) -> str:
        s = self.spec
        parts = [f"{len(s.examples)} example(s) ≥ {s.threshold:g}"] if s.examples else []
        parts += [f"{len(s.regex)} regex"] if s.regex else []
        where = s.window.describe() if s.window else "whole call"
        return f"{s.mode} {s.speaker} phrase ({', '.join(parts)}; {where})"
