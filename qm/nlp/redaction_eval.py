"""Scores a Redactor on a labelled utterance set (tests/data/redaction_cases.jsonl).

Shared by ``bench/redaction_eval.py`` (prints the figures) and the unit tests (assert the
thresholds), so both measure the same thing.  Definitions:

* recall (per type): share of gold PII items whose words are *all* redacted, under any tag --
  a name tagged PHONE is still not leaked.  ``typed_recall`` also requires the right tag.
* precision (per type, word level): of the words tagged T, the share that belong to a gold T item.
* leaked card: a gold CARD item with any word left unredacted, or whose digits still appear in
  the redacted text (spoken digits included).
* over-redaction: share of PII-free utterances with at least one redacted word, and the share of
  non-PII words redacted across the whole set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qm.nlp.redaction import PII_TYPES, Redactor

_SPOKEN = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9"}


@dataclass(frozen=True)
class Case:
    id: str
    words: list[str]
    pii: list[dict]


@dataclass
class TypeScore:
    items: int = 0
    caught: int = 0
    typed: int = 0
    predicted_words: int = 0
    correct_words: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.items if self.items else 1.0

    @property
    def typed_recall(self) -> float:
        return self.typed / self.items if self.items else 1.0

    @property
    def precision(self) -> float:
        return self.correct_words / self.predicted_words if self.predicted_words else 1.0


@dataclass
class EvalReport:
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    cases: int = 0
    negatives: int = 0
    over_redacted_negatives: list[str] = field(default_factory=list)
    non_pii_words: int = 0
    over_redacted_words: int = 0
    leaked_cards: list[str] = field(default_factory=list)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (case id, type, value)

    @property
    def over_redaction_rate(self) -> float:
        return len(self.over_redacted_negatives) / self.negatives if self.negatives else 0.0

    @property
    def word_false_positive_rate(self) -> float:
        return self.over_redacted_words / self.non_pii_words if self.non_pii_words else 0.0


def load_cases(path: Path) -> list[Case]:
    cases = []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                cases.append(Case(d["id"], list(d["words"]), list(d["pii"])))
            except (json.JSONDecodeError, KeyError) as exc:
                raise ValueError(f"{path}:{n}: not a redaction case ({exc})") from exc
    return cases


def _text_digits(text: str) -> str:
    out = []
    for tok in re.findall(r"[A-Za-z]+|\d", text):
        low = tok.lower()
        if tok.isdigit():
            out.append(tok)
        elif low in _SPOKEN:
            out.append(_SPOKEN[low])
    return "".join(out)


def evaluate(redactor: Redactor, cases: Iterable[Case]) -> EvalReport:
    rep = EvalReport(per_type={t: TypeScore() for t in PII_TYPES})
    for case in cases:
        rep.cases += 1
        result = redactor.redact_words(case.words)
        types = result.word_types
        gold: dict[int, str] = {}
        for item in case.pii:
            for i in item["words"]:
                gold[i] = item["type"]
        for item in case.pii:
            score = rep.per_type[item["type"]]
            score.items += 1
            idx = item["words"]
            caught = all(types[i] is not None for i in idx)
            score.caught += caught
            score.typed += all(types[i] == item["type"] for i in idx)
            if not caught:
                rep.misses.append((case.id, item["type"], item["value"]))
            if item["type"] == "CARD":
                value = re.sub(r"\D", "", item["value"])
                if not caught or (value and value in _text_digits(result.text)):
                    rep.leaked_cards.append(case.id)
        for i, t in enumerate(types):
            if t is not None:
                rep.per_type[t].predicted_words += 1
                rep.per_type[t].correct_words += gold.get(i) == t
            if i not in gold:
                rep.non_pii_words += 1
                rep.over_redacted_words += t is not None
        if not case.pii:
            rep.negatives += 1
            if any(t is not None for t in types):
                rep.over_redacted_negatives.append(case.id)
    return rep
