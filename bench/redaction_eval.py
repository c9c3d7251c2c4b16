"""Print PII-redaction figures on the labelled utterance set.

Run:  .venv/bin/python bench/redaction_eval.py [--cases tests/data/redaction_cases.jsonl] [--show-misses]

Targets: zero leaked card numbers; >= 95% recall on every other type; low over-redaction.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

from qm.nlp.redaction import PII_TYPES, Redactor
from qm.nlp.redaction_eval import evaluate, load_cases

DEFAULT_CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "redaction_cases.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--swda", type=int, default=0, metavar="N",
                    help="also redact the first N Switchboard test utterances (real phone speech, "
                    "from ../shared/datasets) and report how many get redacted, by type")
    ap.add_argument("--show-misses", action="store_true", help="list every missed item and false positive")
    args = ap.parse_args(argv)

    cases = load_cases(args.cases)
    redactor = Redactor()
    t0 = time.perf_counter()
    rep = evaluate(redactor, cases)
    elapsed = time.perf_counter() - t0

    print(f"cases: {rep.cases} utterances ({rep.negatives} without PII), {elapsed * 1000 / rep.cases:.2f} ms each")
    print(f"{'type':<12} {'items':>5} {'recall':>8} {'typed':>8} {'precision':>10}")
    for t in PII_TYPES:
        s = rep.per_type[t]
        print(f"{t:<12} {s.items:>5} {s.recall:>8.3f} {s.typed_recall:>8.3f} {s.precision:>10.3f}")
    print(f"leaked card numbers: {len(rep.leaked_cards)} {rep.leaked_cards or ''}")
    print(f"over-redaction on negatives: {len(rep.over_redacted_negatives)}/{rep.negatives} "
          f"= {rep.over_redaction_rate:.3f}")
    print(f"non-PII words redacted (all cases): {rep.over_redacted_words}/{rep.non_pii_words} "
          f"= {rep.word_false_positive_rate:.4f}")
    if args.show_misses:
        for cid, typ, value in rep.misses:
            print(f"  MISS {cid} {typ} {value!r}")
        by_id = {c.id: c for c in cases}
        for cid in rep.over_redacted_negatives:
            r = redactor.redact_words(by_id[cid].words)
            print(f"  FP   {cid}: {r.text}")
    if args.swda:
        _swda_report(redactor, args.swda, args.show_misses)
    failed = bool(rep.leaked_cards) or any(
        rep.per_type[t].recall < 0.95 for t in PII_TYPES if t != "CARD" and rep.per_type[t].items
    )
    return 1 if failed else 0


def _swda_report(redactor: Redactor, limit: int, show: bool) -> None:
    """Switchboard has no PII labels; this shows how often real conversation triggers redaction."""
    path = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "swda" / "swda_utterances.tsv"
    if not path.exists():
        print(f"swda: {path} not found, skipped")
        return
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r["utterance"] for r in csv.DictReader(fh, delimiter="\t") if r["split"] == "test"][:limit]
    t0 = time.perf_counter()
    results = redactor.redact_batch([[" " + w for w in u.split()] for u in rows])
    elapsed = time.perf_counter() - t0
    by_type: Counter[str] = Counter()
    hit = 0
    for r in results:
        if r.count:
            hit += 1
            by_type.update(t for t in r.word_types if t)
    print(f"swda test utterances: {len(rows)}, redacted: {hit} ({hit / max(len(rows), 1):.3%}), "
          f"words by type: {dict(by_type)}, {elapsed * 1000 / max(len(rows), 1):.2f} ms each (batched)")
    if show:
        for r in results:
            if r.count:
                print(f"  SWDA {r.text}")


if __name__ == "__main__":
    sys.exit(main())
