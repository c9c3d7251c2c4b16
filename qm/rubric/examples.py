"""A behaviour defined only by example sentences: the classifier behind ``custom_behaviour``
and behind the example-based triggers and responses of ``conditional``.

A QA lead describes a behaviour ("offers a callback", "the customer sounds upset") with a few
positive and negative sentences; a logistic regression on the similarity encoder's sentence
embeddings is trained from them at load time.  Two guards make a classifier trained on a handful
of sentences usable:

* a fixed set of ordinary contact-centre sentences is added as extra negatives, so the decision
  boundary is not drawn through unrelated speech (small talk, requests for details, plain problem
  statements, acknowledgements — never an action the agent takes, since any such action could be
  some rubric's target behaviour);
* an utterance must also be at least ``min_similarity`` (cosine) close to one positive example:
  far from all training data a linear model's probability is an extrapolation, not evidence.

Optional ``regex`` cues count as a match on their own (explicit wording needs no model).  The
trained weights are cached on disk (JSON, exact float round-trip) under
``data_dir/cache/custom_behaviour/<sha256>.json``, keyed by the examples, the training settings and
the encoder, so reloading a rubric does not retrain and a cached model scores byte-identically to a
fresh one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from qm.rubric.spec import HASHED_WHEN_SET, EmbeddingSpace, RegexList, StrictModel, compile_patterns, listify

ALGO_VERSION = "lr-v2"
# With ``clauses: true``, an utterance of at least this many words that does not match as a whole is also
# judged clause by clause: Whisper often runs sentences together ("…and corrected one will come by mail
# within two working days"), and one long vector dilutes the behaviour a clause of it shows.
CLAUSE_MIN_WORDS = 12
CLAUSE_WORDS = 4  # shorter pieces are not judged on their own
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|(?<=[a-z])\s+(?=[A-Z][a-z])")  # "…declined twice There's a line…"
# A piece that opens with a subordinating word ("because this comes up a lot.", "so most people steer clear of
# it.") qualifies the clause before it; judged alone it has lost what it explains, and such reasons sat near blame
# remarks.  Left unjudged, professionalism agreed on 672 instead of 666 of 705 calls (one set left out at a time:
# six false alarms gone, no remark missed; docs/benchmarks.md, session 20).
# How clauses are cut is part of what ``clauses: true`` means, so the loader hashes this rule in its place
# (``HASHED_AS``): bump it when ``clauses`` yields different pieces, and stored results keep their version.
CLAUSE_RULE = "v2-no-subordinate"
CLAUSES_FIELD = {"hashed_as": CLAUSE_RULE}  # json_schema_extra of every ``clauses`` option
_SUBORDINATE = re.compile(r"^\W*(because|cause|'cause|so|since|as|which|though|although)\b", re.IGNORECASE)
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


def _check_nonblank(v: list[str]) -> list[str]:
    if any(not e.strip() for e in v):
        raise ValueError("an example sentence is empty")
    return v


# A rubric field holding example sentences, none of them blank.
ExampleList = Annotated[list[str], BeforeValidator(listify), AfterValidator(_check_nonblank)]


# Lists longer than this (an ``examples_file``) keep their vectors in the user cache directory, so a
# rubric with thousands of labelled sentences does not re-encode them in every new process.
EXAMPLE_CACHE_MIN = 200


def _examples_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    root = os.environ.get("QM_EXAMPLES_CACHE") or Path(user_cache_dir("qm", appauthor=False)) / "rubric-examples"
    return Path(root)


def encode_examples(enc: Any, texts: list[str]) -> np.ndarray:
    """Vectors of a rubric's example sentences; long lists are cached on disk by encoder and content."""
    if len(texts) < EXAMPLE_CACHE_MIN:
        return np.asarray(enc.encode(texts), dtype=np.float32)
    ident = getattr(enc, "identity", None) or str(getattr(enc, "path", type(enc).__name__))
    key = hashlib.sha256(json.dumps([ident, texts]).encode()).hexdigest()[:32]
    path = _examples_cache_dir() / f"{key}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape[0] == len(texts) and cached.dtype == np.float32:
            return cached
    except (OSError, ValueError):
        pass  # missing or corrupt: encode again and overwrite
    vecs = np.asarray(enc.encode(texts), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vecs)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs encoding again next time
    return vecs


def check_disjoint(positive: list[str], negative: list[str]) -> None:
    pos = {" ".join(p.lower().split()) for p in positive}
    both = [n for n in negative if " ".join(n.lower().split()) in pos]
    if both:
        raise ValueError(f"example {both[0]!r} is both positive and negative")


class ExampleSet(StrictModel):
    """Examples (and optional regex cues) that define a behaviour inside another criterion."""

    positive: ExampleList = Field(min_length=3)
    negative: ExampleList = Field(min_length=3)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    min_similarity: float = Field(default=0.3, ge=0, le=1)
    regex: RegexList = Field(default_factory=list)
    # also judge the clauses of a long utterance (CLAUSE_MIN_WORDS); see ExampleClassifier
    clauses: bool = Field(default=False, json_schema_extra=CLAUSES_FIELD)
    # more positives (its ``examples:``) and negatives (``counter_examples:``) from a YAML file beside the rubric,
    # merged in by the loader, as for a phrase criterion
    examples_file: str | None = Field(default=None, json_schema_extra=HASHED_WHEN_SET)
    # > 0: a nearest-neighbour rule instead of the logistic model (``threshold`` is then unused): an utterance
    # matches when its nearest positive is at least ``min_similarity`` close and this much closer than its
    # nearest negative.  Suited to hundreds of labelled sentences, where a linear boundary underfits.
    counter_margin: float = Field(default=0.0, ge=0, le=1, json_schema_extra=HASHED_WHEN_SET)
    # which vectors: the plain similarity encoder, or the adapted one the classifier heads read
    encoder: EmbeddingSpace = Field(default="similarity", json_schema_extra=HASHED_WHEN_SET)

    @model_validator(mode="after")
    def _disjoint(self) -> ExampleSet:
        check_disjoint(self.positive, self.negative)
        return self


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class LinearModel:
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


def _load_cached(path: Path) -> LinearModel | None:
    try:
        d = json.loads(path.read_text())
        coef = np.asarray(d["coef"], dtype=np.float64)
        if coef.ndim != 1:
            return None
        return LinearModel(coef, float(d["intercept"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupt: retrain and overwrite


def _store(path: Path, model: LinearModel) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"coef": model.coef.tolist(), "intercept": model.intercept}))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir only costs retraining next time


def train(pos_emb: np.ndarray, neg_emb: np.ndarray) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([pos_emb, neg_emb]).astype(np.float64)
    y = np.array([1] * len(pos_emb) + [0] * len(neg_emb))
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=SEED)
    clf.fit(x, y)
    return LinearModel(clf.coef_[0], float(clf.intercept_[0]))


@dataclass(frozen=True, slots=True)
class Judgement:
    matched: bool
    score: float  # probability (1.0 for a regex cue)
    how: str  # "regex" | "p=0.93, similarity 0.71"


class ExampleClassifier:
    """Trained once per rubric load (or read from the cache); judges utterances by text + embedding."""

    def __init__(self, positive: list[str], negative: list[str], threshold: float, min_similarity: float,
                 regex: list[str], clauses: bool = False, counter_margin: float = 0.0,
                 space: EmbeddingSpace = "similarity") -> None:
        self.positive, self.negative = list(positive), list(negative)
        self.space = space  # which vectors prepare() is given and judge() is passed
        self.threshold, self.min_similarity = threshold, min_similarity
        self.counter_margin = counter_margin
        self._neg: np.ndarray | None = None
        self.patterns = compile_patterns(regex)
        self.clauses = clauses
        self._enc: Any = None
        self.model: LinearModel | None = None
        self._pos: np.ndarray | None = None
        self.cache_path: Path | None = None
        self.from_cache = False

    @classmethod
    def from_set(cls, ex: ExampleSet) -> ExampleClassifier:
        return cls(ex.positive, ex.negative, ex.threshold, ex.min_similarity, ex.regex, ex.clauses,
                   ex.counter_margin, ex.encoder)

    @property
    def prepared(self) -> bool:
        """Trained (or read from the cache), and holding the encoder when clauses are judged."""
        ready = self._neg is not None if self.counter_margin else self.model is not None
        return ready and (not self.clauses or self._enc is not None)

    def prepare(self, enc: Any) -> None:
        self._enc = enc  # clause judgements embed the clauses of each call
        if self.counter_margin:
            if self._neg is None:
                self._pos = encode_examples(enc, self.positive)
                self._neg = encode_examples(enc, [*self.negative, *BACKGROUND_NEGATIVES])
            return
        if self.model is not None:
            return
        self._pos = encode_examples(enc, self.positive)
        ident = getattr(enc, "identity", None) or str(getattr(enc, "path", type(enc).__name__))
        self.cache_path = _cache_dir() / f"{cache_key(self.positive, self.negative, ident)}.json"
        model = _load_cached(self.cache_path)
        self.from_cache = model is not None and model.coef.shape[0] == self._pos.shape[1]
        if not self.from_cache:
            neg = encode_examples(enc, [*self.negative, *BACKGROUND_NEGATIVES])
            model = train(self._pos, neg)
            _store(self.cache_path, model)
        self.model = model

    def explicit(self, text: str) -> bool:
        """True when a regex cue matches: explicit wording, which counts without the model."""
        return any(rx.search(text) for rx in self.patterns)

    def judge(self, texts: list[str], x: np.ndarray) -> list[Judgement]:
        """One judgement per text; ``x`` holds the texts' (L2-normalised) embeddings, row by row."""
        if not texts:
            return []
        out = self._judge(texts, x)
        if not self.clauses or self._enc is None:
            return out
        todo = [i for i, j in enumerate(out) if not j.matched]
        owners, pieces, px = clauses_of([texts[i] for i in todo], self._enc)
        for k, piece, j in zip(owners, pieces, self._judge(pieces, px) if pieces else [], strict=True):
            if j.matched and not out[todo[k]].matched:
                out[todo[k]] = Judgement(True, j.score, f"{j.how} on the clause {piece!r}")
        return out

    def _judge(self, texts: list[str], x: np.ndarray) -> list[Judgement]:
        assert self._pos is not None, "prepare() was not called"
        sims = (x @ self._pos.T).max(axis=1)
        if self.counter_margin:  # nearest-neighbour rule
            assert self._neg is not None
            near = (x @ self._neg.T).max(axis=1)
            oks = (sims >= self.min_similarity) & (sims >= near + self.counter_margin)
            scores = sims
            hows = [f"similarity {s:.2f}, nearest negative {n:.2f}" for s, n in zip(sims, near, strict=True)]
        else:
            assert self.model is not None
            scores = self.model.proba(x)
            oks = (scores >= self.threshold) & (sims >= self.min_similarity)
            hows = [f"p={p:.2f}, similarity {s:.2f}" for p, s in zip(scores, sims, strict=True)]
        return [Judgement(True, 1.0, "regex") if self.explicit(text)
                else Judgement(bool(text.strip()) and bool(ok), float(score), how)
                for text, ok, score, how in zip(texts, oks, scores, hows, strict=True)]


def clauses_of(texts: list[str], enc: Any) -> tuple[list[int], list[str], np.ndarray]:
    """The clauses of those ``texts`` long enough to split (CLAUSE_MIN_WORDS), in order: for each clause the
    position of its text in ``texts``, the clause, and its vector (one encoder call for all of them)."""
    owners, pieces = [], []
    for i, text in enumerate(texts):
        if len(text.split()) >= CLAUSE_MIN_WORDS:
            for piece in clauses(text):
                owners.append(i)
                pieces.append(piece)
    vecs = np.asarray(enc.encode(pieces), dtype=np.float32) if pieces else np.zeros((0, 0), dtype=np.float32)
    return owners, pieces, vecs


def clauses(text: str) -> list[str]:
    """The clauses of a run-on utterance: split after , ; : and where a capitalised word follows a
    lower-case one (a sentence end Whisper left out); pieces under CLAUSE_WORDS words, and subordinate
    pieces ("because …", "so …"), are not judged on their own."""
    return [p for p in _CLAUSE_BREAK.split(text) if len(p.split()) >= CLAUSE_WORDS and not _SUBORDINATE.match(p)]
