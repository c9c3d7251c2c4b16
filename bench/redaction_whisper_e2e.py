"""End-to-end redaction check on REAL Whisper output: TTS -> Whisper tiny.en -> Redactor.

The labelled sets are written the way Whisper writes numbers; this bench checks that claim by
speaking the PII utterances with espeak-ng, transcribing them with the bundled Whisper and
redacting what Whisper actually wrote.  Word alignment is lost, so scoring is by value:

* numbers: the gold digits are looked for in the transcript (digits and spoken digit words).
  ``heard`` = Whisper's raw text contains them; ``leaked`` = the redacted text still does.
  For cards, any 8 consecutive digits of the number count as a leak.
* names / e-mails: every name word (or the e-mail's local part) is looked for, case-insensitively.

Needs espeak-ng (not installed in CI): it exits with a message when the engine is missing.
Run:  nice -n 10 .venv/bin/python bench/redaction_whisper_e2e.py [--limit 120]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from bench.synth.make_call import Voice, synthesize, tts_available
from qm.nlp.redaction import Redactor
from qm.nlp.redaction_eval import Case, load_cases

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
_SPOKEN = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9"}


def digits_of(text: str) -> str:
    out = []
    for tok in re.findall(r"[A-Za-z]+|\d", text):
        if tok.isdigit():
            out.append(tok)
        elif tok.lower() in _SPOKEN:
            out.append(_SPOKEN[tok.lower()])
    return "".join(out)


def present(item: dict, text: str) -> bool:
    typ, value = item["type"], item["value"]
    if typ == "NAME":
        words = [w for w in re.findall(r"[\w']+", value.lower()) if len(w) > 1]
        low = re.findall(r"[\w']+", text.lower())
        return any(w in low for w in words)
    if typ == "EMAIL":
        local = re.split(r"@", value.lower())[0]
        parts = [p for p in re.split(r"[._\-\s]", local) if len(p) > 2]
        return any(p in text.lower() for p in parts)
    d = re.sub(r"\D", "", value)
    if not d:
        return False
    hay = digits_of(text)
    if typ == "CARD":
        return any(d[i : i + 8] in hay for i in range(len(d) - 7))
    return d in hay


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=120, help="utterances to speak (seeded sample)")
    ap.add_argument("--seed", type=int, default=5, help="seed of the sample drawn from the main set")
    ap.add_argument("--no-holdout", action="store_true", help="sample only the main set (fresh utterances)")
    ap.add_argument("--show", action="store_true", help="print every leak with the Whisper text")
    args = ap.parse_args(argv)
    if not tts_available("espeak-ng"):
        print("espeak-ng is not installed; this bench needs it (apt-get install espeak-ng)")
        return 0

    from qm.asr import get_transcriber
    from qm.config import get_settings

    s = get_settings()
    asr = get_transcriber("tiny.en", "int8", 2, 1, "en", str(s.data_dir), False)
    redactor = Redactor()
    cases: list[Case] = [] if args.no_holdout else [
        c for c in load_cases(DATA / "redaction_holdout.jsonl") if c.pii
    ]
    rest = [c for c in load_cases(DATA / "redaction_cases.jsonl") if c.pii]
    random.Random(args.seed).shuffle(rest)
    cases = (cases + rest)[: args.limit]

    voice = Voice("espeak-ng", "en-us", rate=0.9)
    heard: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    total: Counter[str] = Counter()
    leaks: list[str] = []
    t0 = time.perf_counter()
    for c in cases:
        text = "".join(c.words).strip()
        pcm, sr = synthesize(text, voice)
        g = gcd(sr, 16000)
        audio = resample_poly(pcm, 16000 // g, sr // g).astype(np.float32)
        audio = np.concatenate([np.zeros(4000, np.float32), audio, np.zeros(8000, np.float32)])
        words = [w.text for w in asr.transcribe(audio)]
        raw = "".join(words).strip()
        red = redactor.redact_words(words).text
        for item in c.pii:
            total[item["type"]] += 1
            if present(item, raw):
                heard[item["type"]] += 1
                if present(item, red):
                    leaked[item["type"]] += 1
                    leaks.append(f"{c.id} {item['type']}: {raw!r} -> {red!r}")
    elapsed = time.perf_counter() - t0
    print(f"{len(cases)} utterances spoken by espeak-ng and transcribed by Whisper tiny.en in {elapsed:.0f} s")
    print(f"{'type':<12} {'items':>5} {'heard':>6} {'leaked':>7} {'caught|heard':>13}")
    for t in sorted(total):
        h = heard[t]
        rate = (h - leaked[t]) / h if h else float("nan")
        print(f"{t:<12} {total[t]:>5} {h:>6} {leaked[t]:>7} {rate:>13.3f}")
    print(f"leaked card numbers (of those Whisper heard): {leaked['CARD']}")
    if args.show:
        for line in leaks:
            print("  LEAK", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
