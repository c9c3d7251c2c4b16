"""Word error rate with the usual normalisation (case, punctuation, simple number words, titles)."""

from __future__ import annotations

import re

_NUM = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}
# hesitations carry no words; Whisper's own English normaliser drops them the same way
_FILLERS = {"um", "uh", "er", "erm", "ah", "hmm", "mm", "mhm", "mmm", "uhm"}


_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
        "twelve": "twelfth"}


def _cardinal(n: int) -> str:
    if n < 21:
        return _NUM[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _NUM[n % 10])
    if n < 1000:
        return _NUM[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _cardinal(n % 100))
    if n < 1_000_000:
        return _cardinal(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + _cardinal(n % 1000))
    return " ".join(_NUM[int(d)] for d in str(n))


def _spell_number(digits: str, suffix: str) -> str:
    """Digits as a reader says them: years as pairs ("1455" -> "fourteen fifty five"), else cardinals."""
    n = int(digits)
    if len(digits) == 4 and 1100 <= n <= 1999 and n % 100:
        words = _cardinal(n // 100) + " " + (_cardinal(n % 100) if n % 100 >= 10 else "oh " + _NUM[n % 100])
    else:
        words = _cardinal(n)
    if suffix in ("st", "nd", "rd", "th"):
        head, _, last = words.rpartition(" ")
        last = _ORD.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
        words = (head + " " + last).strip()
    return words


def normalise(text: str) -> list[str]:
    t = text.lower().replace("’", "'").replace("-", " ")
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)?\b", lambda m: _spell_number(m.group(1), m.group(2) or ""), t)
    t = re.sub(r"[^\w\s']", " ", t)
    t = re.sub(r"(?<!\w)'|'(?!\w)", " ", t)
    words = []
    for w in t.split():
        if w not in _FILLERS:
            words.append(_TITLES.get(w, w))
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(refs: list[str], hyps: list[str]) -> tuple[float, int, int]:
    """Corpus WER (errors / reference words) over pairs; returns (wer, errors, words)."""
    errors = words = 0
    for r, h in zip(refs, hyps, strict=True):
        rn, hn = normalise(r), normalise(h)
        errors += edit_distance(rn, hn)
        words += len(rn)
    return (errors / words if words else 0.0), errors, words
