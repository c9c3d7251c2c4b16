"""Disk cache of sentence embeddings for training/evaluation reruns.

Embedding ~150k training utterances takes several minutes on two cores; the
heads themselves train in seconds.  Caching by exact text (per encoder) makes
reruns and hyper-parameter tries cheap.  It lives in the user cache directory,
never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from qm.nlp.encoder import EMBEDDING_DIM, Encoder

CHUNK = 4096


def default_cache_dir() -> Path:
    return Path(os.environ.get("QM_EMBED_CACHE") or user_cache_dir("qm", appauthor=False)) / "embeddings"


class EmbeddingCache:
    def __init__(self, encoder: Encoder, root: Path | None = None) -> None:
        self.encoder = encoder
        tag = hashlib.sha1(encoder.identity.encode()).hexdigest()[:12]
        self.dir = (root or default_cache_dir()) / tag
        self.dir.mkdir(parents=True, exist_ok=True)
        self._texts: list[str] = []
        self._emb = np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        tpath, epath = self.dir / "texts.json", self.dir / "emb.npy"
        if tpath.is_file() and epath.is_file():
            texts = json.loads(tpath.read_text(encoding="utf-8"))
            emb = np.load(epath)
            # rows are only ever appended, so a reader racing a writer keeps the common prefix
            k = min(len(texts), len(emb))
            self._texts, self._emb = texts[:k], emb[:k]
        self._index = {t: i for i, t in enumerate(self._texts)}

    def _save(self) -> None:
        tmp_t, tmp_e = self.dir / "texts.json.tmp", self.dir / "emb.tmp.npy"
        tmp_t.write_text(json.dumps(self._texts), encoding="utf-8")
        np.save(tmp_e, self._emb)
        tmp_e.replace(self.dir / "emb.npy")
        tmp_t.replace(self.dir / "texts.json")

    def encode(self, texts: Sequence[str], progress: bool = True) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._index})
        for s in range(0, len(missing), CHUNK):
            chunk = missing[s:s + CHUNK]
            vecs = self.encoder.encode(chunk)
            start = len(self._texts)
            self._texts.extend(chunk)
            self._emb = np.concatenate([self._emb, vecs])
            self._index.update({t: start + k for k, t in enumerate(chunk)})
            self._save()
            if progress:
                print(f"  embedded {min(s + CHUNK, len(missing))}/{len(missing)} new texts", file=sys.stderr)
        return self._emb[[self._index[t] for t in texts]] if texts else np.zeros((0, EMBEDDING_DIM), "f4")


class CachingEncoder:
    """Encoder look-alike answering from the cache (and filling it) - for quick evaluation reruns."""

    def __init__(self, encoder: Encoder | None = None) -> None:
        from qm.nlp.encoder import get_encoder

        self.inner = encoder or get_encoder()
        self.path = self.inner.path
        self.max_length = self.inner.max_length
        self.adapter_digest = self.inner.adapter_digest
        self.int8 = self.inner.int8
        self.runtime = self.inner.runtime
        self.identity = self.inner.identity
        self.cache = EmbeddingCache(self.inner)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        clean = [t if t and t.strip() else "." for t in texts]
        return self.cache.encode(clean, progress=False)
