"""What Whisper wrote for each turn of the labelled bench calls, for the example files (``bench/asr_turns.json``).

Why: the default rubric's example files (``bench/make_rubric_examples.py``) are built from the scripts' exact
words, but at run time the rubric reads Whisper's text: "If you'd read the returns page properly" arrives as "If
you read the return page properly", and a run-on utterance holds several of the script's sentences. Across the
unseen sets, professionalism agreed with the reviewers on ~95 % of calls on the exact words and ~86 % end to end.
This file records, per call, each stored utterance (redacted, as the rubric sees it) with the script turn it
belongs to (the same speaker's turn it overlaps most in time, from the renderer's ground truth), so the example
files can hold what the bench calls look like after Whisper too (``with_asr`` in ``bench/make_rubric_examples.py``).

Measured 2026-12-07 for professionalism (``bench.examples_loso --stores``, Whisper's text, one set left out at a
time): adding Whisper's sentences as examples and counter-examples lost 3 calls over 645, as examples only 8 over
185 (garbled ordinary sentences became "remarks"), so no shipped file uses it; the output is not committed
(CTranslate2 transcribes differently on another CPU, so it is rebuilt from the stores where it is used).

Input: the stores of ``bench/rubric_agreement.py --set SET --data-dir DIR/SET`` runs (one per set).

Run: .venv/bin/python -m bench.asr_turns --stores DIR [--out bench/calls/asr_turns.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.labelled_sets import CALLS, SETS, set_key
from bench.synth.make_call import load_script

OUT = CALLS / "asr_turns.json"
AUDIO = CALLS / "audio"


def assign(turns: list[dict], utterances: list[dict]) -> list[tuple[int, str, str]]:
    """(script turn index, speaker, text) per utterance: the same speaker's turn it overlaps most in time;
    utterances that overlap none of that speaker's turns (a hallucination in a hold) are left out."""
    out = []
    for u in utterances:
        best, best_ov = None, 0.0
        for i, t in enumerate(turns):
            if t["speaker"] != u["speaker"]:
                continue
            ov = min(t["end"], u["end"]) - max(t["start"], u["start"])
            if ov > best_ov:
                best, best_ov = i, ov
        if best is not None and u["text"].strip():
            out.append((best, u["speaker"], u["text"].strip()))
    return out


def collect(stores: Path) -> tuple[dict[str, list[tuple[int, str, str]]], set[str]]:
    from qm.store import open_store

    calls: dict[str, list[tuple[int, str, str]]] = {}
    models: set[str] = set()
    for folder in SETS["all"]:
        db = stores / set_key(folder) / "qm.db"
        if not db.is_file():
            raise SystemExit(f"no store for set {folder}: run bench/rubric_agreement.py --set {set_key(folder)} "
                             f"--data-dir {stores / set_key(folder)}")
        store = open_store(f"sqlite:///{db}")
        for path in sorted((CALLS / folder).glob("*.yaml")):
            script = load_script(path)
            doc = store.get_result(script.call_id)
            truth = AUDIO / f"{script.call_id}.json"
            if doc is None or not truth.is_file():
                raise SystemExit(f"{path}: not scored into {db} (or not rendered)")
            turns = json.loads(truth.read_text(encoding="utf-8"))["turns"]
            if len(turns) != len(script.turns):
                raise SystemExit(f"{truth} does not match {path}: render it again")
            calls[f"bench/calls/{folder}/{path.name}"] = assign(turns, doc["utterances"])
            models.add(doc["asr"]["model"])
    return calls, models


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stores", type=Path, required=True, help="folder with one rubric_agreement store per set")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    calls, models = collect(args.stores)
    data = {"asr_model": sorted(models), "what": "per call: [script turn index, speaker, Whisper's redacted text]",
            "calls": calls}
    text = json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(calls)} calls, {sum(len(v) for v in calls.values())} utterances, "
          f"{len(text.encode()):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
