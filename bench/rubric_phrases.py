"""How often the shipped rubrics' meaning-match criteria fire on real agent sentences.

Data: MAIA-DQE real customer-support chats (agent sentences are English;
../shared/datasets/maia_dqe, CC BY-ND, evaluation only, read in place).
These agents are professional, so every hit of a *forbidden* criterion
(insults, threats, pressure) is a false positive that would auto-fail a call;
the rate must stay near zero.  For *required* phrases the script prints the
share of dialogues in which the phrase is found in its window, for
orientation only: these chats begin after a pre-chat form (no spoken-style
greeting or verification) and their timing is synthetic (0.4 s per word), so
it is not a recall figure.

Run: .venv/bin/python bench/rubric_phrases.py [--datasets DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qm.nlp.encoder import get_similarity_encoder
from qm.rubric import load_rubric
from qm.rubric.kinds.phrase import Phrase
from qm.rubric.kinds.presence import PresenceKind
from qm.rubric.view import CallView, ScoringInput
from qm.types import Metrics, Utterance

FILES = ("de_client_02.json", "pt_br_client_04.json", "pt_pt_client_03.json")  # pt_br_client_02 duplicates 04


def dialogues(root: Path) -> list[list[Utterance]]:
    seen: set[str] = set()
    out: list[list[Utterance]] = []
    for name in FILES:
        for d in json.loads((root / name).read_text()):
            if d["id"] in seen:
                continue
            seen.add(d["id"])
            utts: list[Utterance] = []
            t = 0.0
            for turn, tr in enumerate(d["turns"]):
                speaker = "agent" if tr["floor"] == "outbound" else "customer"
                texts = tr["text_src"] if speaker == "agent" else (tr["text_mt"] or tr["text_src"])
                for text in texts:
                    n = max(1, len(text.split()))
                    utts.append(Utterance(len(utts), speaker, t, t + n * 0.4, text, turn, n))
                    t += n * 0.4 + 0.5
            out.append(utts)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    args = ap.parse_args()
    dias = dialogues(args.datasets / "maia_dqe")
    n_agent = sum(1 for d in dias for u in d if u.speaker == "agent")
    print(f"MAIA-DQE: {len(dias)} dialogues, {n_agent} agent sentences")
    empty = Metrics(0, 0, 0, 0, 0, None, None)
    t0 = time.perf_counter()
    views = [CallView(ScoringInput(d, [], empty, d[-1].end if d else 0.0), get_similarity_encoder) for d in dias]
    for v in views:
        _ = v.embeddings
    print(f"encoded in {time.perf_counter() - t0:.1f} s", flush=True)
    for name in ("default", "sales", "collections"):
        rubric = load_rubric(name)
        t0 = time.perf_counter()
        for kind in rubric.kinds:
            if not isinstance(kind, PresenceKind) or kind.spec.speaker != "agent":
                continue
            s = kind.spec
            if s.mode == "forbidden":
                hits = [m for v in views for m in kind.match(v, v.by_speaker("agent")) if m.matched]
                print(f"  {name}.{s.id} (forbidden, {type(kind).__name__}): {len(hits)}/{n_agent} agent "
                      f"sentences flagged = {len(hits) / max(n_agent, 1):.2%}")
                for m in hits[:5]:
                    print(f"      #{m.utterance.text!r} ({m.how})")
            else:
                verdicts = [kind.evaluate(v).passed for v in views]
                found = sum(1 for p in verdicts if p)
                applicable = sum(1 for p in verdicts if p is not None)
                label = "phrase" if isinstance(kind, Phrase) else "behaviour"
                print(f"  {name}.{s.id} (required {label}, {s.window.describe() if s.window else 'whole'}): "
                      f"found in {found}/{applicable} dialogues = {found / max(applicable, 1):.1%}")
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
