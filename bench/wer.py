"""Word error rate with the usual normalisation (case, punctuation, simple number words, titles)."""

from __future__ import annotations

import re

_NUM = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
_TITLES = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay"}


def normalise(text: str) -> list[str]:
    t = text.lower().replace("’", "'").replace("-", " ")
    t = re.sub(r"[^\w\s']", " ", t)
    t = re.sub(r"(?<!\w)'|'(?!\w)", " ", t)
    words = []
    for w in t.split():
        if w.isdigit() and int(w) < len(_NUM):
            w = _NUM[int(w)]
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
