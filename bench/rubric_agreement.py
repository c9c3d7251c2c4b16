"""End-to-end agreement of the default rubric with human labels on the labelled bench calls.

Usage: .venv/bin/python bench/rubric_agreement.py [--set SET] [--json] [--data-dir DIR [--rescore]]
       [--rubric NAME|PATH]      (SET: dev|heldout|test|seen|blind|blind2|blind3|blind4|blind5|blind6|all)

The labelled sets are listed in bench/labelled_sets.py (how each was written and used:
bench/calls/README.md and docs/benchmarks.md); voices and wording differ from the demo calls.
Each call carries a human verdict per criterion of rubrics/default.yaml (pass / fail / not
applicable).  The calls are rendered to stereo audio (needs espeak-ng/flite once) and scored by
the real pipeline: Whisper, redaction, the classifier heads, metrics and the rubric.  A call
agrees on a criterion when qm's ``passed`` (True / False / None) equals the label.  Prints
per-criterion agreement and kappa.

``--data-dir`` keeps the scored calls in a store there; a later ``--rescore`` run re-scores those stored
transcripts (``Pipeline.rescore``: classifiers, metrics and rubric, no Whisper), which is how a rubric
edit is checked in seconds instead of minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.labelled_sets import CALLS, SETS
from bench.labelled_sets import scripts as set_scripts
from bench.synth.make_call import ensure_rendered, load_script
from bench.wer import wer

AUDIO = CALLS / "audio"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="test", help="which labelled calls (%(default)s)")
    ap.add_argument("--max-agent-wer", type=float, default=None,
                    help="also report agreement on calls whose agent-channel WER is at most this (e.g. 0.25): "
                         "separates rubric errors from unintelligible synthetic voices")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep the scored calls in a store here")
    ap.add_argument("--rescore", action="store_true",
                    help="re-score the calls stored in --data-dir (no Whisper) instead of transcribing")
    ap.add_argument("--rubric", default=None, help="rubric name or YAML path (default: the configured one)")
    args = ap.parse_args()
    if args.rescore and args.data_dir is None:
        ap.error("--rescore needs --data-dir (where an earlier run stored the calls)")
    if args.data_dir is not None:
        os.environ["QM_DATA_DIR"] = str(args.data_dir.resolve())
    os.environ.setdefault("QM_DATA_DIR", tempfile.mkdtemp(prefix="qm-agree-"))
    from qm.errors import AudioError
    from qm.pipeline import Pipeline
    from qm.rubric.calibrate import cohen_kappa

    pipe = Pipeline()
    # Score every call with the rubric as it is now: the pipeline reloads the file per call, so an edit
    # made during a long run would otherwise change (or, with a field this code lacks, stop) the run.
    from qm.rubric.loader import resolve
    source = resolve(args.rubric or pipe.settings.default_rubric, pipe.settings.rubrics_dir)
    # (the whole folder: a rubric may read an examples file beside it)
    snapshot = Path(shutil.copytree(source.parent, Path(tempfile.mkdtemp(prefix="qm-rubric-")) / "rubrics"))
    rubric = str(snapshot / source.name)
    agent_wer: dict[str, float] = {}
    per: dict[str, list[tuple[object, object, str]]] = {}
    scripts = set_scripts(args.set)
    for script_path in scripts:
        script = load_script(script_path)
        if not script.labels:
            continue
        if args.rescore:
            try:
                doc = pipe.rescore(script.call_id, rubric=rubric).to_contract()
            except AudioError as exc:  # not scored into this store yet: say so, score the rest
                print(f"skipped: {exc}", file=sys.stderr)
                continue
        else:
            paths = ensure_rendered(script_path, AUDIO, fmt="wav", mono=True)
            doc = pipe.score(paths["stereo"], agent_id=script.agent_id, call_id=script.call_id,
                             agent_channel=script.agent_channel, rubric=rubric,
                             save=args.data_dir is not None).to_contract()
        got = {c["id"]: c["passed"] for c in doc["criteria"]}
        ref = " ".join(t.text for t in script.turns if t.speaker == "agent")
        hyp = " ".join(u["text"] for u in doc["utterances"] if u["speaker"] == "agent")
        agent_wer[script.call_id] = wer([ref], [hyp])[0]
        for crit, label in script.labels.items():
            if crit in got:
                per.setdefault(crit, []).append((label, got[crit], script.call_id))
    rows = table(per, cohen_kappa)
    total = sum(r["agree"] for r in rows), sum(r["calls"] for r in rows)
    clear = None
    if args.max_agent_wer is not None:
        keep = {c for c, w in agent_wer.items() if w <= args.max_agent_wer}
        clear = table({k: [p for p in v if p[2] in keep] for k, v in per.items()}, cohen_kappa)
    if args.json:
        print(json.dumps({"set": args.set, "calls": len(agent_wer), "criteria": rows,
                          "overall_pct": round(100 * total[0] / max(total[1], 1), 1),
                          "agent_wer": {c: round(w, 3) for c, w in agent_wer.items()},
                          "intelligible_calls": clear}, indent=2))
        return
    print(f"set: {args.set} ({len(agent_wer)} calls)")
    show(rows)
    print("agent-channel WER per call: " + ", ".join(f"{c.split('-')[1]} {w:.0%}" for c, w in agent_wer.items()))
    if clear is not None:
        n = len({p[2] for v in per.values() for p in v if agent_wer[p[2]] <= args.max_agent_wer})
        print(f"\ncalls with agent WER <= {args.max_agent_wer:.0%} ({n} calls):")
        show(clear)


def table(per: dict[str, list[tuple[object, object, str]]], cohen_kappa) -> list[dict]:
    rows = []
    for crit, pairs in per.items():
        if not pairs:
            continue
        agree = sum(a == b for a, b, _ in pairs)
        enc = {True: "pass", False: "fail", None: "n/a"}
        kappa = cohen_kappa([enc[a] for a, _, _ in pairs], [enc[b] for _, b, _ in pairs])
        rows.append({"criterion": crit, "calls": len(pairs), "agree": agree,
                     "agreement_pct": round(100 * agree / len(pairs), 1),
                     "kappa": None if kappa is None else round(kappa, 3),
                     "disagreements": [f"{c}: human {a}, qm {b}" for a, b, c in pairs if a != b]})
    return rows


def show(rows: list[dict]) -> None:
    total = sum(r["agree"] for r in rows), sum(r["calls"] for r in rows)
    print(f"{'criterion':24} {'agree':>7} {'%':>6} {'kappa':>6}")
    for r in rows:
        k = "-" if r["kappa"] is None else f"{r['kappa']:.2f}"
        print(f"{r['criterion']:24} {r['agree']:3d}/{r['calls']:<3d} {r['agreement_pct']:6.1f} {k:>6}")
        for d in r["disagreements"]:
            print(f"    {d}")
    print(f"{'overall':24} {total[0]:3d}/{total[1]:<3d} {100 * total[0] / max(total[1], 1):6.1f}")


if __name__ == "__main__":
    main()
