"""Throughput of the utterance labeller (all heads together) on real customer-service text.

    .venv/bin/python bench/nlp_speed.py [--data ../shared/datasets] [--calls 25] [--per-call 80]

Calls are cut from MAIA-DQE chats (English agent text + English MT of the customer),
80 utterances each (~a 5-minute call), and labelled one call per ``Labeller.label``
invocation, as the pipeline does.  Prints utterances/second and the time the NLP
stage adds per call, with a split into encoder / spaCy / heads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FALLBACK = [
    ("agent", "Thank you for calling, my name is Sam, how can I help you today?"),
    ("customer", "Hi, my internet has been dropping out every evening for the past week."),
    ("agent", "I'm sorry to hear that, that must be really frustrating."),
    ("agent", "Can I take your account number please?"),
    ("customer", "Sure, it's on the letter somewhere, give me a second."),
    ("agent", "No problem, take your time."),
    ("customer", "I've already restarted the router twice and it didn't help at all."),
    ("agent", "Did the lights on the front of the router change colour when it dropped?"),
    ("customer", "I think the orange one was blinking, but I'm not sure."),
    ("agent", "Okay, tell me a bit more about when it happens, is it always around the same time?"),
]


def load_calls(data: Path, per_call: int, calls: int) -> list[tuple[list[str], list[str]]]:
    files = sorted((data / "maia_dqe").glob("*.json")) if data.is_dir() else []
    stream: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path in files:
        for dlg in json.loads(path.read_text(encoding="utf-8")):
            if dlg["id"] in seen:
                continue
            seen.add(dlg["id"])
            for turn in dlg["turns"]:
                agent = turn["floor"] == "outbound"
                for text in turn["text_src"] if agent else turn["text_mt"]:
                    stream.append(("agent" if agent else "customer", text))
    if not stream:
        stream = FALLBACK
    out = []
    for c in range(calls):
        chunk = [stream[(c * per_call + k) % len(stream)] for k in range(per_call)]
        out.append(([t for _, t in chunk], [s for s, _ in chunk]))
    return out


def _forget(lab: object) -> None:
    """Empty the encoder's in-memory text cache so repeated runs measure real encoding."""
    cache = getattr(getattr(lab, "encoder", None), "_cache", None)
    if cache is not None:
        cache.clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument("--calls", type=int, default=25)
    ap.add_argument("--per-call", type=int, default=80)
    args = ap.parse_args()

    from qm.nlp.heads import build_features
    from qm.nlp.labeller import get_labeller, normalise_text
    from qm.nlp.questions import syntax_features

    calls = load_calls(args.data, args.per_call, args.calls)
    lab = get_labeller()
    lab.label(["Warm-up sentence, not part of the timed calls?"], ["agent"])  # model loads are one-off
    _forget(lab)

    t0 = time.perf_counter()
    for texts, speakers in calls:
        lab.label(texts, speakers)
    total = time.perf_counter() - t0
    n = sum(len(t) for t, _ in calls)

    # component split on the same data
    enc_t = syn_t = head_t = 0.0
    _forget(lab)
    for texts, _ in calls:
        clean = [normalise_text(t) for t in texts]
        a = time.perf_counter()
        emb = lab.encoder.encode(clean)
        b = time.perf_counter()
        syn = syntax_features(clean)
        c = time.perf_counter()
        for head in lab.heads.values():
            if hasattr(head, "inputs"):
                head.predict_proba(build_features(head.inputs, emb, emb, syn))
        head_t += time.perf_counter() - c
        enc_t += b - a
        syn_t += c - b

    per_call = total / len(calls)
    print(f"utterances: {n} in {len(calls)} calls of {args.per_call}; threads: "
          f"{__import__('torch').get_num_threads()}")
    print(f"throughput (all heads together): {n / total:.1f} utterances/s")
    print(f"added time per 5-minute call (~{args.per_call} utterances): {per_call:.3f} s")
    print(f"split per call: encoder {enc_t / len(calls):.3f} s, spaCy cues {syn_t / len(calls):.3f} s, "
          f"heads {head_t / len(calls):.4f} s")
    print(f"median utterance length: {np.median([len(x.split()) for texts, _ in calls for x in texts]):.0f} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
