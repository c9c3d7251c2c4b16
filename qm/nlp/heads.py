"""Small trained classifier heads that sit on top of the shared sentence encoder.

A head is two files in ``heads_dir``: ``<name>.npz`` (standardisation + MLP weights,
float32, a few hundred KB) and ``<name>.json`` (label names, which inputs it reads,
decision bias/threshold, training provenance and held-out metrics).  Inference is
plain numpy so every head costs microseconds once the encoder has run; that is
what keeps one encoder pass per utterance affordable for many heads.

Any head can instead be served by a fine-tuned Hugging Face sequence-classification
directory (``heads.yaml`` in ``heads_dir``), for teams that train a bigger model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qm.errors import ModelError

HEAD_NAMES = ("sentiment", "emotion", "empathy", "question")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
EMOTION_LABELS = ("anger", "anxiety", "sadness", "joy", "confusion", "surprise", "neutral")
EMPATHY_LABELS = ("other", "empathy")
QUESTION_LABELS = ("none", "open", "closed")
LABELS: dict[str, tuple[str, ...]] = {
    "sentiment": SENTIMENT_LABELS,
    "emotion": EMOTION_LABELS,
    "empathy": EMPATHY_LABELS,
    "question": QUESTION_LABELS,
}
TRAIN_COMMAND = ".venv/bin/python -m qm.nlp.train"
FORMAT_VERSION = 1
CONTEXT_MAX_UTTERANCES = 5


class HeadLoadError(ModelError):
    """A head artefact is missing, unreadable or inconsistent; the message says how to rebuild it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"classifier head file {self.path} is unusable: {reason}. "
            f"Rebuild the heads with: {TRAIN_COMMAND} --out {self.path.parent}"
        )


def previous_other_turn(speakers: Sequence[str]) -> list[list[int]]:
    """For each utterance, the indices of the other speaker's most recent turn before it.

    Why: empathy (and some sentiment) depends on what the other person just said, but the
    labeller only sees a flat utterance list, so 'context' is defined purely from speaker
    changes.  The run is capped so a long monologue does not wash the signal out.
    """
    out: list[list[int]] = []
    for i, sp in enumerate(speakers):
        j = i - 1
        while j >= 0 and speakers[j] == sp:
            j -= 1
        run: list[int] = []
        if j >= 0:
            other = speakers[j]
            while j >= 0 and speakers[j] == other and len(run) < CONTEXT_MAX_UTTERANCES:
                run.append(j)
                j -= 1
        out.append(sorted(run))
    return out


def context_embeddings(emb: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """Re-normalised mean of the other speaker's previous turn (zeros when there is none)."""
    ctx = np.zeros_like(emb)
    for i, run in enumerate(previous_other_turn(speakers)):
        if run:
            v = emb[run].mean(0)
            n = float(np.linalg.norm(v))
            if n > 0:
                ctx[i] = v / n
    return ctx


def build_features(inputs: Sequence[str], emb: np.ndarray, ctx: np.ndarray | None,
                   syntax: np.ndarray | None) -> np.ndarray:
    """Concatenate the inputs a head was trained on, in its recorded order."""
    parts = []
    for name in inputs:
        if name == "utterance":
            parts.append(emb)
        elif name == "context":
            if ctx is None:
                raise ValueError("head needs context embeddings")
            parts.append(ctx)
        elif name == "syntax":
            if syntax is None:
                raise ValueError("head needs syntax features")
            parts.append(syntax)
        else:
            raise ValueError(f"unknown head input {name!r}")
    return np.concatenate(parts, axis=1).astype(np.float32, copy=False)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class MLPHead:
    """Standardise -> (Linear -> ReLU)* -> Linear -> softmax, plus a tuned per-class logit bias."""

    name: str
    labels: tuple[str, ...]
    inputs: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: list[tuple[np.ndarray, np.ndarray]]
    bias: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.scale
        for k, (w, b) in enumerate(self.weights):
            h = h @ w + b
            if k < len(self.weights) - 1:
                np.maximum(h, 0, out=h)
        return h

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Calibrated-ish probabilities (softmax of raw logits, no decision bias)."""
        if x.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return softmax(self.logits(x)).astype(np.float32)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class index after the validation-tuned bias (log-space) is applied."""
        return np.argmax(np.log(np.clip(proba, 1e-9, 1)) + self.bias, axis=1)

    def save(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"mean": self.mean, "scale": self.scale, "bias": self.bias}
        for k, (w, b) in enumerate(self.weights):
            arrays[f"W{k}"] = w.astype(np.float32)
            arrays[f"b{k}"] = b.astype(np.float32)
        np.savez_compressed(out_dir / f"{self.name}.npz", **arrays)
        meta = dict(self.meta)
        meta.update(format_version=FORMAT_VERSION, name=self.name, labels=list(self.labels),
                    inputs=list(self.inputs), n_layers=len(self.weights))
        (out_dir / f"{self.name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, heads_dir: Path, name: str) -> MLPHead:
        jpath, npath = heads_dir / f"{name}.json", heads_dir / f"{name}.npz"
        for p in (jpath, npath):
            if not p.is_file():
                raise HeadLoadError(p, "file not found")
        try:
            meta = json.loads(jpath.read_text())
        except (OSError, ValueError) as exc:
            raise HeadLoadError(jpath, f"not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            raise HeadLoadError(jpath, f"expected format_version {FORMAT_VERSION}")
        labels = tuple(meta.get("labels") or ())
        if labels != LABELS.get(name, labels) or not labels:
            raise HeadLoadError(jpath, f"labels {list(labels)} do not match {list(LABELS.get(name, ()))}")
        try:
            with np.load(npath, allow_pickle=False) as z:
                arrays = {k: z[k].astype(np.float32) for k in z.files}
            n_layers = int(meta["n_layers"])
            weights = [(arrays[f"W{k}"], arrays[f"b{k}"]) for k in range(n_layers)]
            mean, scale, bias = arrays["mean"], arrays["scale"], arrays["bias"]
        except Exception as exc:  # zip/pickle/key errors all mean the same thing to the user
            raise HeadLoadError(npath, f"cannot read weights ({type(exc).__name__}: {exc})") from exc
        dims_ok = (mean.shape == scale.shape and weights and weights[0][0].shape[0] == mean.shape[0]
                   and weights[-1][0].shape[1] == len(labels) and bias.shape == (len(labels),)
                   and all(w.shape[1] == b.shape[0] for w, b in weights))
        if not dims_ok:
            raise HeadLoadError(npath, "weight shapes are inconsistent with the label list")
        if not all(np.isfinite(a).all() for a in (mean, scale, bias, *[w for w, _ in weights])):
            raise HeadLoadError(npath, "weights contain NaN or infinity")
        return cls(name, labels, tuple(meta["inputs"]), mean, scale, weights, bias, meta)


_POSITIVE_NAMES = {"empathy", "empathetic", "yes", "true", "1", "positive", "label_1"}


class HFHead:
    """A fine-tuned ``AutoModelForSequenceClassification`` directory standing in for a trained head.

    Its label names (``config.id2label``) must map onto this head's labels; for the binary
    empathy head the positive class may be called e.g. 'empathy', 'yes' or 'LABEL_1'.
    """

    def __init__(self, name: str, path: Path, max_length: int = 128, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = name
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise HeadLoadError(self.path / "config.json", f"HF model directory for head {name!r} not found")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(str(self.path),
                                                                            local_files_only=True)
        except Exception as exc:
            raise HeadLoadError(self.path / "config.json", f"cannot load HF model ({exc})") from exc
        self.model.eval()
        self._torch = torch
        self.labels = LABELS[name]
        self.max_length = max_length
        self.batch_size = batch_size
        id2label = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        self.columns = self._map_columns(id2label)

    def _map_columns(self, id2label: dict[int, str]) -> list[int]:
        """Model output column feeding each of our labels."""
        n = len(id2label)
        if self.name == "empathy" and n == 2:
            pos = [i for i, lab in id2label.items() if lab in _POSITIVE_NAMES]
            p = pos[0] if pos else 1
            return [1 - p, p]
        by_name = {lab: i for i, lab in id2label.items()}
        if self.name == "question":
            by_name.setdefault("none", by_name.get("not_question", by_name.get("other", -1)))
        missing = [lab for lab in self.labels if by_name.get(lab, -1) < 0]
        if missing:
            raise HeadLoadError(self.path / "config.json",
                                f"id2label {sorted(id2label.values())} lacks {missing} needed by head {self.name!r}")
        return [by_name[lab] for lab in self.labels]

    def predict_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(texts), self.batch_size):
                batch = self.tokenizer([t or "." for t in texts[s:s + self.batch_size]], padding=True,
                                       truncation=True, max_length=self.max_length, return_tensors="pt")
                logits = self.model(**batch).logits.float().numpy()
                p = softmax(logits)[:, self.columns]
                out[s:s + len(p)] = p / p.sum(axis=1, keepdims=True)
        return out

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return np.argmax(proba, axis=1)


def read_heads_config(heads_dir: Path) -> dict[str, Path]:
    """``heads.yaml``: ``{head_name: {hf_model: DIR}}`` or ``{head_name: DIR}``; relative paths resolve
    against ``heads_dir``.  ``QM_HEAD_<NAME>`` environment variables override the file."""
    mapping: dict[str, Path] = {}
    cfg = heads_dir / "heads.yaml"
    if cfg.is_file():
        import yaml

        try:
            raw = yaml.safe_load(cfg.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HeadLoadError(cfg, f"not valid YAML ({exc})") from exc
        if not isinstance(raw, dict):
            raise HeadLoadError(cfg, "expected a mapping of head name to model directory")
        for name, value in raw.items():
            if name not in HEAD_NAMES:
                raise HeadLoadError(cfg, f"unknown head {name!r}; known: {', '.join(HEAD_NAMES)}")
            d = value.get("hf_model") if isinstance(value, dict) else value
            if d:
                p = Path(str(d)).expanduser()
                mapping[name] = p if p.is_absolute() else heads_dir / p
    for name in HEAD_NAMES:
        env = os.environ.get(f"QM_HEAD_{name.upper()}")
        if env:
            mapping[name] = Path(env).expanduser()
    return mapping
