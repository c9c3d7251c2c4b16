"""Speaker attribution and dialogue order on synthetic two-voice calls (bench/calls/scripts).

Usage: .venv/bin/python bench/speakers.py [--mono] [--limit N] [--json]

Each script is rendered with two different TTS voices (agent left, customer right, pauses, a long
hold, some overtalk; needs espeak-ng/flite) and scored by the real pipeline.  For every scripted
turn we take the recognised words inside its time span and check that the majority speaker is the
scripted one.  Dialogue order: WER of the whole call (all turns in time order) against WER of the two
channels taken separately; a scrambled order inflates the first but not the second.
With ``--mono`` the same calls are mixed to one channel, so roles come from diarisation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synth.make_call import ensure_rendered
from bench.wer import wer

SCRIPTS = Path(__file__).resolve().parent / "calls" / "scripts"
AUDIO = Path(__file__).resolve().parent / "calls" / "audio"


def evaluate(truth: dict, doc: dict, words: list) -> dict:
    turns = truth["turns"]
    correct = attributed = 0
    for t in turns:
        inside = [w.speaker for w in words if w.start < t["end"] - 0.05 and w.end > t["start"] + 0.05]
        if not inside:
            continue
        attributed += 1
        correct += Counter(inside).most_common(1)[0][0] == t["speaker"]
    ref_all = " ".join(t["text"] for t in turns)
    hyp_all = " ".join(u["text"] for u in doc["utterances"])
    per = {}
    for spk in ("agent", "customer"):
        per[spk] = (" ".join(t["text"] for t in turns if t["speaker"] == spk),
                    " ".join(u["text"] for u in doc["utterances"] if u["speaker"] == spk))
    refs = [per["agent"][0], per["customer"][0]]
    hyps = [per["agent"][1], per["customer"][1]]
    return {
        "turns": len(turns), "turns_with_words": attributed, "turns_correct": correct,
        "interleaved": wer([ref_all], [hyp_all])[1:], "per_channel": wer(refs, hyps)[1:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mono", action="store_true", help="score the mono mixes (diarisation path)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("QM_DATA_DIR", tempfile.mkdtemp(prefix="qm-bench-"))
    from qm.pipeline import Pipeline

    pipe = Pipeline()
    rows = []
    scripts = sorted(SCRIPTS.glob("*.yaml"))
    if args.limit:
        scripts = scripts[: args.limit]
    for script in scripts:
        paths = ensure_rendered(script, AUDIO, fmt="wav", mono=True)
        truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
        audio = paths["mono"] if args.mono else paths["stereo"]
        scored = pipe.score(audio, agent_id=truth.get("agent_id"), call_id=truth["call_id"] + ("-m" if args.mono
                            else ""), agent_channel="mono" if args.mono else "left", save=False)
        r = evaluate(truth, scored.to_contract(), scored.words)
        r["call_id"] = truth["call_id"]
        rows.append(r)
    tot = {k: sum(r[k] for r in rows) for k in ("turns", "turns_with_words", "turns_correct")}
    ie = sum(r["interleaved"][0] for r in rows), sum(r["interleaved"][1] for r in rows)
    pe = sum(r["per_channel"][0] for r in rows), sum(r["per_channel"][1] for r in rows)
    summary = {
        "mode": "mono (diarised)" if args.mono else "stereo (channel = speaker)",
        "calls": len(rows), **tot,
        "turn_attribution_pct": round(100 * tot["turns_correct"] / max(tot["turns_with_words"], 1), 2),
        "interleaved_wer_pct": round(100 * ie[0] / max(ie[1], 1), 2),
        "per_channel_wer_pct": round(100 * pe[0] / max(pe[1], 1), 2),
    }
    if args.json:
        print(json.dumps({"summary": summary, "calls": rows}, indent=2))
        return
    for r in rows:
        iw = 100 * r["interleaved"][0] / max(r["interleaved"][1], 1)
        pw = 100 * r["per_channel"][0] / max(r["per_channel"][1], 1)
        print(f"{r['call_id']:34} turns {r['turns_correct']:3d}/{r['turns_with_words']:3d}  "
              f"WER interleaved {iw:5.1f}%  per-channel {pw:5.1f}%")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
