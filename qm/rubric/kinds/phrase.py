"""``phrase``: meaning match against example sentences, plus optional regular expressions.

Agents rarely say the scripted words, so exact text matching misses most
greetings and disclosures; cosine similarity of sentence embeddings
(``qm.nlp.encoder``) against a few examples catches paraphrases, and a regex
catches fixed legal wording (a disclosure must often be word-for-word) or
keywords the encoder underweights.  An utterance matches when any regex
matches or its best similarity to an example reaches ``threshold``.

Sentence embeddings are blind to who owns a clause: "That's our mistake, not
yours" sits 0.69 from "That's your fault, not mine".  ``counter_examples`` are
near misses a QA lead has seen: a meaning match only counts when the utterance is
closer to an example than to every counter-example (regexes are unaffected, so
explicit wording still decides on its own).

With hundreds of examples and thousands of counter-examples (``examples_file``:
labelled sentences kept beside the rubric) the same rule is a nearest-neighbour
classifier: an utterance matches when its nearest example is at least
``counter_margin`` closer than its nearest ordinary sentence.  That is how the
default rubric recognises sarcasm, blame and condescension in words no regex
foresaw (docs/rubrics.md).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from qm.rubric.examples import CLAUSES_FIELD, ExampleList, check_disjoint, clauses_of, encode_examples
from qm.rubric.kinds.presence import Match, PresenceKind, PresenceSpec
from qm.rubric.registry import PrepareContext, register_kind
from qm.rubric.spec import HASHED_WHEN_SET, EmbeddingSpace
from qm.rubric.view import CallView
from qm.types import Utterance

DEFAULT_THRESHOLD = 0.55


class PhraseSpec(PresenceSpec):
    kind: Literal["phrase"] = "phrase"
    examples: ExampleList = Field(default_factory=list)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0, le=1)
    # near misses that must not match by meaning; each vetoes a match it is closer to than any example
    counter_examples: ExampleList = Field(default_factory=list)
    # a meaning match needs its best example at least this much closer than the nearest counter-example
    counter_margin: float = Field(default=0.0, ge=0, le=1, json_schema_extra=HASHED_WHEN_SET)
    # more examples / counter-examples, from a YAML file beside the rubric (merged in by the loader)
    examples_file: str | None = Field(default=None, json_schema_extra=HASHED_WHEN_SET)
    encoder: EmbeddingSpace = Field(default="similarity", json_schema_extra=HASHED_WHEN_SET)
    # also judge the clauses of a long utterance that does not match as a whole (examples.CLAUSE_MIN_WORDS)
    clauses: bool = Field(default=False, json_schema_extra={**HASHED_WHEN_SET, **CLAUSES_FIELD})

    @model_validator(mode="after")
    def _something(self) -> PhraseSpec:
        if not self.examples and not self.regex:
            raise ValueError("give examples (sentences to match by meaning) and/or regex")
        if self.counter_examples and not self.examples:
            raise ValueError("counter_examples only refine a meaning match: give examples too")
        if self.clauses and not self.examples:
            raise ValueError("clauses only apply to a meaning match: give examples too")
        check_disjoint(self.examples, self.counter_examples)
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
        self._counter: np.ndarray | None = None
        self._enc: Any = None  # embeds clauses (``clauses: true``)

    def prepare(self, ctx: PrepareContext) -> None:
        if self.spec.clauses and self._enc is None:
            self._enc = ctx.encoder(self.spec.encoder)
        if self.spec.examples and self._examples is None:
            self._examples = encode_examples(ctx.encoder(self.spec.encoder), self.spec.examples)
        if self.spec.counter_examples and self._counter is None:
            self._counter = encode_examples(ctx.encoder(self.spec.encoder), self.spec.counter_examples)

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:
        out: list[Match] = []
        for u in utts:
            rx = any(p.search(u.text) for p in self._patterns)
            emb = call.embedding(u, self.spec.encoder) if self._examples is not None and u.text.strip() else None
            ok, sim, how, vetoed = self._judge(emb, rx)
            out.append(Match(u, 1.0 if rx else sim, ok, how, vetoed))
        if self._enc is not None:  # Whisper runs sentences together; one long vector dilutes what a clause says
            todo = [k for k, m in enumerate(out) if not m.matched and m.utterance.text.strip()]
            owners, pieces, vecs = clauses_of([out[k].utterance.text for k in todo], self._enc)
            for o, piece, vec in zip(owners, pieces, vecs, strict=True):
                k = todo[o]
                c_ok, c_sim, c_how, _ = self._judge(vec, False)
                if c_ok and not out[k].matched:
                    out[k] = Match(out[k].utterance, c_sim, True, f"{c_how} on the clause {piece!r}")
        return out

    def _judge(self, emb: np.ndarray | None, rx: bool) -> tuple[bool, float, str, bool]:
        """(matched, similarity, how, vetoed by a counter-example) for one vector."""
        sim = near = 0.0
        if emb is not None and self._examples is not None:
            sim = float(np.max(self._examples @ emb))
            if self._counter is not None:
                near = float(np.max(self._counter @ emb))
        vetoed = (not rx and sim >= self.spec.threshold and self._counter is not None
                  and near >= sim - self.spec.counter_margin)
        ok = rx or (sim >= self.spec.threshold and not vetoed)
        how = "regex" if rx else f"similarity {sim:.2f}" + (f", counter-example {near:.2f}" if vetoed else "")
        return ok, sim, how, vetoed

    def summary(self) -> str:
        s = self.spec
        parts = [f"{len(s.examples)} example(s) ≥ {s.threshold:g}"] if s.examples else []
        parts += [f"{len(s.counter_examples)} counter-example(s)"
                  + (f", margin {s.counter_margin:g}" if s.counter_margin else "")] if s.counter_examples else []
        parts += [f"from {s.examples_file}"] if s.examples_file else []
        parts += [f"{s.encoder} vectors"] if s.encoder != "similarity" else []
        parts += ["clauses of long utterances too"] if s.clauses else []
        parts += [f"{len(s.regex)} regex"] if s.regex else []
        parts += [f"{len(s.reactions)} reaction regex on the other speaker's reply"] if s.reactions else []
        where = s.window.describe() if s.window else "whole call"
        return f"{s.mode} {s.speaker} phrase ({', '.join(parts)}; {where})"
