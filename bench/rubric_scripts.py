"""Text-level agreement of the default rubric with the human labels of the bench call scripts.

The 13 scripts in bench/calls/scripts carry human pass/fail/N/A labels for every
criterion of rubrics/default.yaml.  This bench scores the scripts' *text*
(no audio, no ASR) with the shipped rubric so the meaning-match and behaviour
criteria can be checked on their own: greeting, identity verification,
resolution, professionalism and closing need only text; active listening is
scored from a timeline laid out like the renderer does (turn pauses, holds,
overlaps) at 150 words per minute.  With ``--labels`` the utterances are also
labelled by the real classifier heads (sentiment, emotion, empathy, question), so
all nine criteria are scored: the rubric and the heads on the exact words, without
speech recognition (the end-to-end bench, ``bench/rubric_agreement.py``, adds ASR).

Run: .venv/bin/python -m bench.rubric_scripts SET [--labels] [--rubric FILE]
(SET: a name in bench/labelled_sets.py; ``--rubric`` scores with another rubric file, e.g. an older
version from ``git show REV:rubrics/default.yaml``, to compare a change on the same scripts)
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from bench.labelled_sets import SETS
from bench.labelled_sets import scripts as set_scripts
from bench.synth.make_call import load_script
from qm.metrics import compute_metrics
from qm.rubric import ScoringInput, load_rubric
from qm.rubric.calibrate import cohen_kappa
from qm.types import Utterance, Word

LABEL_CRITERIA = ("empathy", "questioning", "customer_outcome")
TEXT_CRITERIA = ("greeting", "identity_verification", "resolution", "professionalism", "closing",
                 "active_listening")
WORD_S = 0.4
LEAD_IN_S = 0.5
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def sentences(text: str) -> list[str]:
    """A script turn as the bench's utterances: one per sentence."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def layout(path: Path, label: bool = False) -> tuple[ScoringInput, dict[str, bool | None]]:
    script = load_script(path)
    utts: list[Utterance] = []
    words: list[Word] = []
    end = 0.0
    sound: list[tuple[float, float]] = []  # hold music, as qm.sound finds it in the rendered audio
    for turn_no, turn in enumerate(script.turns):
        base = LEAD_IN_S if turn_no == 0 else end
        if turn.hold and turn.hold_music:
            sound.append((base, base + turn.hold))
        base += turn.hold
        t = end - turn.overlap if turn.overlap else base + turn.pause_before
        for sentence in sentences(turn.text):
            toks = sentence.split()
            start = t
            for tok in toks:
                words.append(Word(t, t + WORD_S * 0.9, " " + tok, 1.0, turn.speaker))  # type: ignore[arg-type]
                t += WORD_S
            utts.append(Utterance(len(utts), turn.speaker, start, t, sentence, turn_no, len(toks)))  # type: ignore[arg-type]
        end = max(end, t)
    if label:
        from qm.nlp.labeller import get_labeller

        labs = get_labeller().label([u.text for u in utts], [u.speaker for u in utts])
        utts = [replace(u, labels=lab) for u, lab in zip(utts, labs, strict=True)]
    duration = end + 1.0
    labels = dict(script.labels or {})
    metrics = compute_metrics(words, utts, duration, sound=sound)
    return ScoringInput(utts, words, metrics, duration, sound), labels


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", nargs="?", default="dev", choices=sorted(SETS), help="which labelled scripts (dev)")
    ap.add_argument("--labels", action="store_true", help="also label the utterances with the classifier heads")
    ap.add_argument("--rubric", default="default", help="rubric name or YAML path (default: default)")
    args = ap.parse_args()
    label, which = args.labels, args.set
    rubric = load_rubric(args.rubric)
    pairs: dict[str, list[tuple[str, str]]] = {c: [] for c in TEXT_CRITERIA + (LABEL_CRITERIA if label else ())}
    misses: list[str] = []
    paths = set_scripts(which)
    print(f"set: {which} ({len(paths)} scripts)")
    for path in paths:
        inp, human = layout(path, label)
        out = rubric.score(inp)
        for c in out.criteria:
            if c.id not in pairs:
                continue
            q = "na" if c.passed is None else "pass" if c.passed else "fail"
            h = human.get(c.id)
            hv = "na" if h is None else "pass" if h else "fail"
            pairs[c.id].append((q, hv))
            if q != hv:
                misses.append(f"  {path.stem}: {c.id} qm={q} human={hv} ({c.detail})")
    what = "text and classifier labels" if label else "text only"
    print(f"rubric {rubric.id}@{rubric.version} on {len(paths)} scripted calls ({what})")
    total = agree = 0
    for crit, ps in pairs.items():
        n = len(ps)
        a = sum(1 for q, h in ps if q == h)
        k = cohen_kappa([q for q, _ in ps], [h for _, h in ps])
        total, agree = total + n, agree + a
        print(f"  {crit:<24} agreement {a}/{n} = {a / n:.0%}  kappa {'—' if k is None else f'{k:.2f}'}")
    print(f"  overall {agree}/{total} = {agree / max(total, 1):.1%}")
    if misses:
        print("disagreements:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
