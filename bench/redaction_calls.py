"""How much personal data survives redaction in the labelled bench calls (exact words, and stored end-to-end text).

The redaction sets (bench/redaction_eval.py) were written around the redactor's cues; these are whole
calls written by other authors, where names come as they do on the phone: "Kingsmead Bank, Martin
speaking", "It is Marcus Reed.", a bare "Hughes." after "And the surname?".  The person names in the
scripts of blind11-blind26 were listed by hand (``bench/calls/person_names.txt``: one line per group of
sets) and every mention of one is looked for, case-sensitively, in what qm keeps:

* exact words: each speaker's turns redacted as one stream, as the pipeline does, with the
  name-question flags the pipeline derives from the other speaker's previous turn;
* ``--data-dir DIR``: the utterance text stored by ``bench/rubric_agreement.py --data-dir DIR``
  (real Whisper output; a name Whisper misheard cannot leak and is not counted as a mention).

Also printed: capitalised words redacted as NAME that are not on the list (shop and street names,
spelled letters, and names the hand list missed) -- an upper bound on over-redaction.

Dates of birth and addresses are counted in the answers to the agents' questions for them (the turn
after "And your date of birth?" / "…and the postcode?", found by ``qm.nlp.redaction.asked_for``): an
answer still holds one when its redacted text keeps a month name, a year ("1975", "nineteen…"), three
or more numbers in a row, or a postcode or street line ("D L one, three H S", "14 Mill Lane").  That is a
proxy (an answer may hold a reference number instead), so the answers kept are printed with ``--show``.

Run: .venv/bin/python bench/redaction_calls.py [--sets blind11-20|blind21-26] [--data-dir DIR] [--show]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.labelled_sets import CALLS
from bench.labelled_sets import scripts as set_scripts
from bench.synth.make_call import load_script

NAME_LISTS = CALLS / "person_names.txt"
_NUM = (r"(zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
        r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|\d+)")
LEFT = {
    "DOB": re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December|"
                      r"19\d\d|20[0-2]\d|nineteen|two thousand)\b|\d+/\d+/\d+|(\b" + _NUM + r"\b[ ,.-]*){3}", re.I),
    "ADDRESS": re.compile(r"(\b" + _NUM + r"\b[ ,.-]*){3}|\b[A-Z]{1,2}\d[A-Z\d]?\b|\b\d[A-Z]{2}\b|\b([A-Z]\b[ ,.]*){2}"
                          r"\b" + _NUM + r"\b|\b" + _NUM + r" [A-Z][a-z]+ (Street|Road|Lane|Avenue|Drive|Close|Court|"
                          r"Way|Crescent|Terrace|Place|Gardens|Grove)\b"),
}


def name_lists() -> dict[str, tuple[list[str], set[str]]]:
    """``group: (sets, names)`` from person_names.txt (``group: set,set,…: Name Name …`` per line)."""
    out: dict[str, tuple[list[str], set[str]]] = {}
    for line in NAME_LISTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group, sets, names = (part.strip() for part in line.split(":", 2))
        out[group] = (sets.split(","), set(names.split()))
    return out


def main() -> None:
    groups = name_lists()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", choices=sorted(groups), default=sorted(groups)[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="also check the stored text of calls scored here")
    ap.add_argument("--show", action="store_true", help="print every leaked mention in context")
    args = ap.parse_args()
    if args.data_dir is not None:
        os.environ["QM_DATA_DIR"] = str(args.data_dir.resolve())
    from qm.nlp.redaction import answered_questions, get_redactor

    sets, names = groups[args.sets]
    mention = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b")
    redactor = get_redactor()
    paths = [p for s in sets for p in set_scripts(s)]
    mentions = leaked = 0
    over: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    shown: list[str] = []
    for path in paths:
        turns = load_script(path).turns
        asked = answered_questions([t.speaker for t in turns], [t.text for t in turns])
        for speaker in ("agent", "customer"):
            idx = [i for i, t in enumerate(turns) if t.speaker == speaker]
            segs = [[" " + w for w in turns[i].text.split()] for i in idx]
            outs = redactor.redact_segments(segs, [asked[i] for i in idx])
            for i, seg, out in zip(idx, segs, outs, strict=True):
                for typ in asked[i] & set(LEFT):
                    if LEFT[typ].search(turns[i].text):
                        answers[typ] += 1
                        if LEFT[typ].search(out.text):
                            kept[typ] += 1
                            shown.append(f"{typ} kept {path.parent.name}/{path.stem}: {out.text}")
                mentions += len(mention.findall("".join(seg)))
                found = mention.findall(out.text)
                leaked += len(found)
                if found:
                    shown.append(f"{path.parent.name}/{path.stem}: {out.text}")
                for w, typ in zip(seg, out.word_types, strict=True):
                    core = re.sub(r"(['’]s)?\W*$", "", re.sub(r"^\W+", "", w.strip()))
                    if typ == "NAME" and core[:1].isupper() and len(core) > 1 and core not in names:
                        over[core] += 1
    print(f"{args.sets}: {len(paths)} calls, exact words: {mentions} name mentions, {leaked} kept in the "
          f"redacted text ({leaked / max(mentions, 1):.1%})")
    print(f"  capitalised words (not single letters) redacted as NAME that are not on the list: {sum(over.values())} "
          f"({len(over)} distinct; most common: {', '.join(w for w, _ in over.most_common(12))})")
    for typ in LEFT:
        print(f"  answers to a {typ} question that hold one: {answers[typ]}, still holding one after redaction: "
              f"{kept[typ]} ({kept[typ] / max(answers[typ], 1):.1%})")
    if args.data_dir is not None:
        from qm.config import Settings
        from qm.store.repository import Store

        store = Store(Settings().resolved_database_url)
        scored = stored_leaks = 0
        for path in paths:
            doc = store.get_result(load_script(path).call_id)
            if doc is None:
                continue
            scored += 1
            for u in doc["utterances"]:
                found = mention.findall(u["text"])
                stored_leaks += len(found)
                if found:
                    shown.append(f"stored {doc['call_id']} {u['speaker']}: {u['text']}")
        print(f"  stored end-to-end text of {scored} scored calls: {stored_leaks} name mentions kept")
    if args.show:
        print("\n".join(shown))


if __name__ == "__main__":
    main()
