"""Turn loaded corpora into (features, labels) matrices for one head, exactly as the labeller would.

Context is built with the same ``previous_other_turn`` rule and the same
normalised mean as ``heads.context_embeddings``, so a head never sees a feature
at training time that it could not see at run time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qm.nlp.corpora import Dialogue
from qm.nlp.heads import build_features, previous_other_turn
from qm.nlp.labeller import normalise_text
from qm.nlp.questions import FEATURE_NAMES, SYNTAX_VERSION, syntax_features


@dataclass
class Matrix:
    x: np.ndarray
    y: list[str]
    corpus: list[str]
    group: list[str]  # dialogue id, for grouped bootstrap
    speaker: list[str]


def collect(dialogues: Sequence[Dialogue], task: str, inputs: Sequence[str],
            embed: Callable[[Sequence[str]], np.ndarray],
            syntax: Callable[[Sequence[str]], np.ndarray] | None = None) -> Matrix:
    texts: list[str] = []
    ctx_runs: list[list[str]] = []
    y: list[str] = []
    corpus: list[str] = []
    group: list[str] = []
    speaker: list[str] = []
    for d in dialogues:
        labs = d.task_labels(task)
        runs = previous_other_turn(d.speakers) if "context" in inputs else None
        for i, lab in enumerate(labs):
            if lab is None:
                continue
            texts.append(normalise_text(d.texts[i]))
            ctx_runs.append([normalise_text(d.texts[j]) for j in runs[i] if normalise_text(d.texts[j])]
                            if runs is not None else [])
            y.append(lab)
            corpus.append(d.corpus)
            group.append(f"{d.corpus}:{d.id}")
            speaker.append(d.speakers[i])
    emb = embed(texts)
    ctx = None
    if "context" in inputs:
        flat = sorted({t for run in ctx_runs for t in run})
        pos = {t: k for k, t in enumerate(flat)}
        cemb = embed(flat)
        ctx = np.zeros_like(emb)
        for i, run in enumerate(ctx_runs):
            if run:
                v = cemb[[pos[t] for t in run]].mean(0)
                n = float(np.linalg.norm(v))
                if n > 0:
                    ctx[i] = v / n
    syn = syntax(texts) if "syntax" in inputs and syntax is not None else None
    x = build_features(inputs, emb, ctx, syn) if texts else np.zeros((0, 0), np.float32)
    return Matrix(x, y, corpus, group, speaker)


def cached_syntax(cache_dir: Path) -> Callable[[Sequence[str]], np.ndarray]:
    """Syntax features memoised on disk by the exact text list (spaCy is the slow part)."""

    def run(texts: Sequence[str]) -> np.ndarray:
        key = hashlib.sha1(json.dumps([SYNTAX_VERSION, FEATURE_NAMES, list(texts)]).encode()).hexdigest()[:16]
        path = cache_dir / f"syntax-{key}.npy"
        if path.is_file():
            return np.load(path)
        feats = syntax_features(texts)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(path, feats)
        return feats

    return run
