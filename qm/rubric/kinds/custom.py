"""``custom_behaviour``: a behaviour defined only by example sentences in the rubric.

A QA lead can add "offers a callback" without code: a logistic regression on
the encoder's sentence embeddings is trained at load time from the rubric's
positive and negative examples.  Two guards make a classifier trained on a
handful of sentences usable:

* a fixed set of ordinary contact-centre sentences is added as extra
  negatives, so the decision boundary is not drawn through unrelated speech
  (small talk, requests for details, acknowledgements — never an action the
  agent takes, since any such action could be some rubric's target behaviour);
* an utterance must also be at least ``min_similarity`` (cosine) close to one
  positive example: far from all training data a linear model's probability is
  an extrapolation, not evidence.

The trained weights are cached on disk (JSON, exact float round-trip) under
``data_dir/cache/custom_behaviour/<sha256>.json``, keyed by the examples, the
training settings and the encoder, so reloading a rubric does not retrain and a
cached model scores byte-identically to a fresh one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from qm.rubric.kinds.presence import Match, PresenceKind, PresenceSpec
from qm.rubric.registry import PrepareContext, register_kind
from qm.rubric.view import CallView
from qm.types import Utterance

ALGO_VERSION = "lr-v2"
SEED = 0
C = 10.0
BACKGROUND_NEGATIVES = (
    "Thank you for calling, how can I help you today?",
    "Can you confirm your date of birth for me?",
    "Let me look into that for you.",
    "Please bear with me for a moment.",
    "Your current balance is forty two pounds.",
    "Could you spell your surname for me?",
    "Okay.",
    "Yes, that's right.",
    "No, that's not correct.",
    "I see.",
    "Hello?",
    "The parcel was delivered yesterday afternoon.",
    "I'm calling about my bill.",
    "My internet has been down since Monday.",
    "What's the reference number?",
    "Is there anything else I can help you with?",
    "Have a great day, goodbye.",
    "Sorry, could you repeat that?",
    "It says here the payment failed.",
    "I don't know, I'd have to check.",
    "That's fine, thank you.",
    "The weather has been terrible this week.",
    "Can you hear me okay?",
)


class CustomBehaviourSpec(PresenceSpec):
    kind: Literal["custom_behaviour"] = "custom_behaviour"
    positive: list[str] = Field(min_length=3)
    negative: list[str] = Field(min_length=3)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_similarity: float = Field(default=0.3, ge=0, le=1)

    @field_validator("positive", "negative")
    @classmethod
    def _nonblank(cls, v: list[str]) -> list[str]:
        if any(not e.strip() for e in v):
            raise ValueError("an example sentence is empty")
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> CustomBehaviourSpec:
        pos = {" ".join(p.lower().split()) for p in self.positive}
        both = [n for n in self.negative if " ".join(n.lower().split()) in pos]
        if both:
            raise ValueError(f"example {both[0]!r} is both positive and negative")
        return self


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class _Model:
    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef = coef.astype(np.float64)
        self.intercept = float(intercept)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(x.astype(np.float64) @ self.coef + self.intercept)


def cache_key(positive: list[str], negative: list[str], encoder_id: str) -> str:
    payload = json.dumps({"algo": ALGO_VERSION, "seed": SEED, "C": C, "encoder": encoder_id,
                          "background": list(BACKGROUND_NEGATIVES),
                          "positive": positive, "negative": negative}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _cache_dir() -> Path:
    from qm.config import get_settings

    return get_settings().data_dir / "cache" / "custom_behaviour"


def _load_cached(path: Path) -> _Model | None:
    try:
        d = json.loads(path.read_text())
        coef = np.asarray(d["coef"], dtype=np.float64)
        if coef.ndim != 1:
            return None
        return _Model(coef, float(d["intercept"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupt: retrain and overwrite


def _store(path: Path, model: _Model) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"coef": model.coef.tolist(), "intercept": model.intercept}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir only costs retraining next time


def train(pos_emb: np.ndarray, neg_emb: np.ndarray) -> _Model:
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([pos_emb, neg_emb]).astype(np.float64)
    y = np.array([1] * len(pos_emb) + [0] * len(neg_emb))
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=SEED)
    clf.fit(x, y)
    return _Model(clf.coef_[0], float(clf.intercept_[0]))


@register_kind("custom_behaviour")
class CustomBehaviour(PresenceKind):
    Spec = CustomBehaviourSpec
    spec: CustomBehaviourSpec
    uses_encoder = True

    def __init__(self, spec: CustomBehaviourSpec) -> None:
        super().__init__(spec)
        self.what = "behaviour"
        self.model: _Model | None = None
        self._pos: np.ndarray | None = None
        self.cache_path: Path | None = None
        self.from_cache = False
        self._patterns = spec.patterns()

    def prepare(self, ctx: PrepareContext) -> None:
        if self.model is not None:
            return
        enc: Any = ctx.encoder()
        s = self.spec
        self._pos = np.asarray(enc.encode(s.positive), dtype=np.float32)
        ident = getattr(enc, "identity", None) or str(getattr(enc, "path", type(enc).__name__))
        key = cache_key(s.positive, s.negative, ident)
        self.cache_path = _cache_dir() / f"{key}.json"
        model = _load_cached(self.cache_path)
        self.from_cache = model is not None and model.coef.shape[0] == self._pos.shape[1]
        if not self.from_cache:
            neg = np.asarray(enc.encode([*s.negative, *BACKGROUND_NEGATIVES]), dtype=np.float32)
            model = train(self._pos, neg)
            _store(self.cache_path, model)
        self.model = model

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:
        assert self.model is not None and self._pos is not None, "prepare() was not called"
        x = np.stack([call.embedding(u) for u in utts])
        probs = self.model.proba(x)
        sims = (x @ self._pos.T).max(axis=1)
        out = []
        for u, p, sim in zip(utts, probs, sims, strict=True):
            if any(rx.search(u.text) for rx in self._patterns):
                out.append(Match(u, 1.0, True, "regex"))
                continue
            ok = bool(u.text.strip()) and p >= self.spec.threshold and sim >= self.spec.min_similarity
            out.append(Match(u, float(p), ok, f"p={p:.2f}, similarity {sim:.2f}"))
        return out

    def summary(self) -> str:
        s = self.spec
        where = s.window.describe() if s.window else "whole call"
        rx = f", {len(s.regex)} regex" if s.regex else ""
        return (f"{s.mode} {s.speaker} behaviour ({len(s.positive)} positive / {len(s.negative)} negative "
                f"examples, p ≥ {s.threshold:g}{rx}; {where})")
