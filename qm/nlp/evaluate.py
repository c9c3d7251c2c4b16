"""Score the installed heads on held-out test splits through the real labeller.

    .venv/bin/python -m qm.nlp.evaluate [--data ../shared/datasets] [--json]

Predictions go through ``Labeller.predict`` with real text and speakers (fresh
encoder pass, spaCy, context from the other speaker) so the figures describe
what the pipeline actually does, including its speed.  Only test splits are
read: the official ones, or the fixed hash splits defined in ``qm.nlp.corpora``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qm.config import PROJECT_ROOT
from qm.nlp.corpora import LOADERS, Dialogue
from qm.nlp.heads import LABELS
from qm.nlp.metrics import bootstrap_f1_ci, classification_report, positive_f1

DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "datasets"  # ../shared/datasets beside the checkout

# head -> corpora whose test split it is scored on
EVAL_SETS: dict[str, tuple[str, ...]] = {
    "question": ("annomi", "swda"),
    "empathy": ("epitome", "esconv", "maia"),
    "sentiment": ("meld", "maia", "goemotions"),
    "emotion": ("goemotions", "maia", "meld"),
}
# (head, corpus, metric, target, baseline) from the issue
TARGETS: tuple[tuple[str, str, str, float, float | None], ...] = (
    ("question", "annomi", "macro_f1", 0.85, 0.77),
    ("question", "swda", "macro_f1", 0.88, 0.84),
    ("empathy", "epitome", "positive_f1", 0.75, 0.66),
    ("empathy", "esconv", "positive_f1", 0.65, 0.53),
    ("empathy", "maia", "positive_f1", 0.55, 0.32),
    ("sentiment", "meld", "weighted_f1", 0.68, 0.64),
)
_ALONE = {"goemotions", "epitome"}  # independent posts: batch them in one call (no cross-talk context)


def _batches(corpus: str, dialogues: Sequence[Dialogue]) -> list[list[Dialogue]]:
    if corpus in _ALONE:
        return [list(dialogues[s:s + 512]) for s in range(0, len(dialogues), 512)]
    return [[d] for d in dialogues]


def _predict_corpus(labeller, corpus: str, dialogues: Sequence[Dialogue]) -> tuple[dict, int, float]:
    """Run the labeller over every test dialogue; return decided labels per head keyed by (dlg, idx)."""
    preds: dict[str, dict[tuple[str, int], str]] = {h: {} for h in EVAL_SETS}
    n = 0
    t0 = time.perf_counter()
    for batch in _batches(corpus, dialogues):
        texts: list[str] = []
        speakers: list[str] = []
        keys: list[tuple[str, int]] = []
        for d in batch:
            # GoEmotions comments share one speaker so none becomes another's "context";
            # EPITOME alternates seeker/responder so each response sees only its own seeker post.
            texts.extend(d.texts)
            speakers.extend(d.speakers)
            keys.extend((d.id, i) for i in range(len(d.texts)))
        out = labeller.predict(texts, speakers)
        n += len(texts)
        for h in preds:
            labs = LABELS[h]
            for k, c in zip(keys, out.decision[h], strict=True):
                preds[h][k] = labs[int(c)]
    return preds, n, time.perf_counter() - t0


def run_eval(data_dir: Path = DEFAULT_DATA, heads_dir: Path | None = None, n_boot: int = 1000,
             use_cache: bool = False) -> dict:
    """Held-out metrics for each head and evaluation set, plus labeller throughput.

    ``use_cache`` reuses the training embedding cache (same encoder, same vectors) to make
    reruns quick; throughput is then not meaningful and is reported as None.
    """
    from qm.nlp.labeller import Labeller, get_labeller

    if use_cache:
        from qm.config import get_settings
        from qm.nlp.embcache import CachingEncoder

        labeller = Labeller(heads_dir or get_settings().heads_dir, encoder=CachingEncoder())
    else:
        labeller = get_labeller(heads_dir)
    labeller.predict(["warm-up"], ["agent"])  # load spaCy/encoder outside the timed region
    corpora = sorted({c for cs in EVAL_SETS.values() for c in cs})
    results: dict[str, dict[str, dict]] = {h: {} for h in EVAL_SETS}
    total_n, total_t = 0, 0.0
    for corpus in corpora:
        tests = [d for d in LOADERS[corpus](Path(data_dir)) if d.split == "test"]
        preds, n, secs = _predict_corpus(labeller, corpus, tests)
        total_n += n
        total_t += secs
        for head, sets in EVAL_SETS.items():
            if corpus not in sets:
                continue
            y_true, y_pred, groups = [], [], []
            for d in tests:
                for i, lab in enumerate(d.task_labels(head)):
                    if lab is not None:
                        y_true.append(lab)
                        y_pred.append(preds[head][(d.id, i)])
                        groups.append(d.id)
            rep = classification_report(y_true, y_pred, LABELS[head])
            if head == "empathy":
                yt = np.array([y == "empathy" for y in y_true])
                yp = np.array([y == "empathy" for y in y_pred])
                rep["positive_f1"] = positive_f1(yt, yp)
                rep["positive_f1_ci95"] = list(bootstrap_f1_ci(yt, yp, n_boot=n_boot, groups=np.array(groups)))
            results[head][corpus] = _round(rep)
    targets = []
    for head, corpus, metric, target, baseline in TARGETS:
        value = results[head].get(corpus, {}).get(metric)
        targets.append({"head": head, "set": corpus, "metric": metric, "value": value, "target": target,
                        "baseline": baseline, "met": value is not None and value >= target})
    return {
        "heads_dir": str(labeller.heads_dir),
        "human_agreement": human_agreement(data_dir),
        "backends": {h: type(v).__name__ for h, v in labeller.heads.items()},
        "results": results,
        "targets": targets,
        "speed": {"utterances": total_n, "seconds": round(total_t, 2), "embedding_cache": use_cache,
                  "utterances_per_second": round(total_n / total_t, 1) if total_t and not use_cache else None},
    }


def human_agreement(data_dir: Path) -> dict:
    """How well one human annotator's question labels match another's on AnnoMI.

    Why: the AnnoMI target is scored against a single annotator's label, so the agreement between
    two annotators on the utterances that ten of them labelled bounds what any model can reach.
    Mean over all ordered annotator pairs of the macro-F1 of one against the other, and of each
    annotator against the majority of all ten (which includes that annotator, so it flatters; a tie goes
    to the first of none/open/closed).
    """
    from itertools import permutations

    from qm.nlp.corpora import annomi_multi_annotations

    multi = annomi_multi_annotations(Path(data_dir))
    if not multi:
        return {}
    k = min(len(labs) for labs in multi)
    cols = [[labs[j] for labs in multi] for j in range(k)]
    labels = LABELS["question"]
    pair = [classification_report(cols[a], cols[b], labels)["macro_f1"] for a, b in permutations(range(k), 2)]
    majority = [max(labels, key=lambda lab, labs=labs: (labs[:k].count(lab), -labels.index(lab)))
                for labs in multi]
    vs_major = [classification_report(majority, cols[j], labels)["macro_f1"] for j in range(k)]
    return {"question": {"annomi": {
        "utterances": len(multi), "annotators": k,
        "pairwise_macro_f1_mean": round(float(np.mean(pair)), 4),
        "pairwise_macro_f1_range": [round(float(min(pair)), 4), round(float(max(pair)), 4)],
        "vs_majority_macro_f1_mean": round(float(np.mean(vs_major)), 4),
    }}}


def _round(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, float):
            out[k] = round(v, 4)
        elif isinstance(v, list):
            out[k] = [round(x, 4) if isinstance(x, float) else x for x in v]
        else:
            out[k] = v
    return out


def format_table(report: dict) -> str:
    lines = [f"heads: {report['heads_dir']}", ""]
    lines.append(f"{'head':<10} {'set':<11} {'n':>6} {'acc':>6} {'macroF1':>8} {'wF1':>6} {'posF1':>6}  per-class F1")
    for head, sets in report["results"].items():
        for corpus, m in sets.items():
            pos = f"{m['positive_f1']:.3f}" if "positive_f1" in m else "-"
            per = " ".join(f"{k}={v:.2f}" for k, v in m["per_class_f1"].items())
            lines.append(f"{head:<10} {corpus:<11} {m['n']:>6} {m['accuracy']:>6.3f} {m['macro_f1']:>8.3f} "
                         f"{m['weighted_f1']:>6.3f} {pos:>6}  {per}")
            if "positive_f1_ci95" in m:
                lo, hi = m["positive_f1_ci95"]
                lines.append(f"{'':<10} {'':<11} positive-class F1 95% CI (dialogue bootstrap): [{lo:.3f}, {hi:.3f}]")
    lines += ["", "targets:"]
    for t in report["targets"]:
        v = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        lines.append(f"  {t['head']:<10} {t['set']:<8} {t['metric']:<12} {v:>6} target {t['target']:.2f} "
                     f"(baseline {t['baseline']})  {'MET' if t['met'] else 'missed'}")
    for head, sets in report.get("human_agreement", {}).items():
        for corpus, h in sets.items():
            lo, hi = h["pairwise_macro_f1_range"]
            lines.append(f"  human agreement ({head}, {corpus}): one annotator against another, macro-F1 "
                         f"{h['pairwise_macro_f1_mean']:.3f} (pairs {lo:.2f}-{hi:.2f}; {h['utterances']} "
                         f"utterances x {h['annotators']} annotators); against the majority "
                         f"{h['vs_majority_macro_f1_mean']:.3f}")
    sp = report["speed"]
    if sp["utterances_per_second"] is None:
        lines += ["", "speed: not measured (embedding cache in use); run without --cache or bench/nlp_speed.py"]
    else:
        lines += ["", f"speed: {sp['utterances']} utterances in {sp['seconds']} s = "
                      f"{sp['utterances_per_second']} utterances/s (all heads, incl. encoder and spaCy)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qm.nlp.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="datasets root (default %(default)s)")
    ap.add_argument("--heads-dir", type=Path, default=None, help="heads directory (default: settings)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    ap.add_argument("--cache", action="store_true",
                    help="reuse the training embedding cache (fast reruns; speed is then not reported)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: dataset directory {args.data} does not exist", file=sys.stderr)
        return 2
    report = run_eval(args.data, args.heads_dir, use_cache=args.cache)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
