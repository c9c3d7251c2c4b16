"""Low-rank (LoRA) adapter for the shared sentence encoder.

Why an adapter and not a fine-tuned copy of MiniLM: the heads need an encoder
that has seen questions, empathy and sentiment in conversation, but a full
fine-tuned copy is ~90 MB and the artefacts under ``models/`` must stay small.
A rank-8 delta on every attention and feed-forward projection is ~1.3 MB in
float16, and it is merged into the base weights once at load time, so run-time
cost is exactly that of the plain encoder: still one pass per utterance.

Files (``models/encoder/``): ``adapter.npz`` (float16 ``<module>.A``/``<module>.B``
pairs) and ``adapter.json`` (rank, alpha, base encoder, training provenance).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from qm.errors import ModelError

ADAPTER_FILE = "adapter.npz"
META_FILE = "adapter.json"
TARGET_SUFFIXES = (
    "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense",
)
TRAIN_COMMAND = ".venv/bin/python -m qm.nlp.train"


class AdapterLoadError(ModelError):
    """The encoder adapter is missing, unreadable or does not fit the encoder."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        super().__init__(f"encoder adapter {self.path} is unusable: {reason}. "
                         f"Rebuild it (and the heads) with: {TRAIN_COMMAND}")


def target_modules(model: Any) -> dict[str, Any]:
    """Linear layers of the transformer blocks that get a low-rank delta (names as in the state dict)."""
    import torch

    return {name: mod for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and ".layer." in name
            and name.endswith(TARGET_SUFFIXES)}


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def read_meta(adapter_dir: Path) -> dict:
    path = Path(adapter_dir) / META_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AdapterLoadError(path, "file not found") from exc
    except (OSError, ValueError) as exc:
        raise AdapterLoadError(path, f"cannot read it ({exc})") from exc


def merge_adapter(model: Any, adapter_dir: Path) -> str:
    """Add ``scale * B @ A`` to each target weight in place; returns the adapter digest.

    Merging (rather than keeping the LoRA branch) means inference runs the ordinary
    dense layers, so speed and numerical behaviour match the base encoder.
    """
    import torch

    adapter_dir = Path(adapter_dir)
    meta = read_meta(adapter_dir)
    path = adapter_dir / ADAPTER_FILE
    try:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError as exc:
        raise AdapterLoadError(path, "file not found") from exc
    except Exception as exc:  # zipfile/pickle/ValueError: any unreadable archive
        raise AdapterLoadError(path, f"cannot read it ({type(exc).__name__}: {exc})") from exc
    try:
        scale = float(meta["alpha"]) / float(meta["rank"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise AdapterLoadError(adapter_dir / META_FILE, "rank/alpha missing or invalid") from exc
    mods = target_modules(model)
    names = sorted({k.rsplit(".", 1)[0] for k in arrays})
    unknown = [n for n in names if n not in mods]
    if unknown or not names:
        raise AdapterLoadError(path, f"modules not in the encoder: {unknown[:3]}" if unknown else "empty archive")
    with torch.no_grad():
        for name in names:
            a = torch.from_numpy(arrays[f"{name}.A"].astype(np.float32))
            b = torch.from_numpy(arrays[f"{name}.B"].astype(np.float32))
            w = mods[name].weight
            if b.shape[0] != w.shape[0] or a.shape[1] != w.shape[1] or a.shape[0] != b.shape[1]:
                raise AdapterLoadError(path, f"shape mismatch at {name}")
            w.add_(scale * (b @ a))
    return file_digest(path)
