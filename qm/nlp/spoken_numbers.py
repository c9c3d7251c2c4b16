"""Turn Whisper words into digit groups, whether Whisper wrote digits or spelled the number out.

PII detection works on digit strings, but callers say "four one one one", "double oh seven",
"oh five twenty seven" or "4111-1111", and Whisper writes any mix of these with punctuation
glued on.  Each *group* is one spoken or written chunk ("twenty seven" -> "27", "4111-1111" ->
"41111111") with the word span it came from, so detectors can look for card numbers across
group boundaries (a card number is often split over several words) and still map every digit
back to the words that must be redacted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

UNITS = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "naught": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
REPEATS = {"double": 2, "triple": 3, "treble": 3}
# Words that may sit between the groups of one spoken number without ending it.
CONNECTORS = frozenset({"uh", "um", "umm", "er", "erm", "ah", "hmm", "mm", "dash", "hyphen", "slash", "space",
                        # Whisper sometimes writes a card read fast as "1.4 trillion 831 billion 67,924,708"
                        "million", "billion", "trillion"})
SCALES = frozenset({"million", "billion", "trillion"})
# "oh"/"o" are interjections unless they touch another number word.
_AMBIGUOUS_ZERO = frozenset({"oh", "o"})
_WRITTEN = "\x00written"  # the atom of a token written in digits; no spoken word can equal it (a literal "#" can)

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_LEAD_PUNCT = "\"'“”‘’([{<«*"
_TRAIL_PUNCT = "\"'“”‘’)]}>»*.,!?;:…"
_WRITTEN_NUMBER = re.compile(r"^[$£€]?\+?\(?[0-9][0-9()\-/.,]*$")
_DECIMAL = re.compile(r"[0-9]\.[0-9]")


def normalise_chars(text: str) -> str:
    """NFKC plus any-script decimal digits to ASCII, so "４１１１" or Arabic-Indic digits cannot slip past."""
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    if text.isascii():
        return text
    out = []
    for ch in text:
        d = unicodedata.decimal(ch, None) if not ch.isascii() else None
        out.append(str(d) if d is not None else ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Token:
    """One Whisper word, split into the parts the detectors need."""

    index: int
    raw: str  # the word as given, outer whitespace removed
    core: str  # raw without leading/trailing punctuation, characters normalised
    low: str  # core lower-cased
    trail: str  # trailing punctuation of raw (kept after a redaction tag)


def surface_words(words: list[str]) -> tuple[list[str], list[int]]:
    """Join faster-whisper's word pieces into the words a person would see.

    faster-whisper starts a new "word" at every punctuation token, so "5,384-8,372" arrives as
    [" 5", ",384", "-8", ",372"]: only the first piece has a leading space.  A piece without
    leading whitespace therefore continues the previous word.  (If no word after the first has
    leading whitespace, the caller did not use that convention and every item is its own word.)
    Returns the joined words and, for every input word, the index of the joined word it is in.
    """
    spaced = any(w[:1].isspace() for w in words[1:])
    surf: list[str] = []
    owner: list[int] = []
    for i, w in enumerate(words):
        if spaced and i > 0 and surf and not w[:1].isspace():
            surf[-1] += w
        else:
            surf.append(w)
        owner.append(len(surf) - 1)
    return surf, owner


def tokenise(words: list[str]) -> list[Token]:
    tokens = []
    for i, w in enumerate(words):
        raw = w.strip()
        norm = normalise_chars(raw).strip()
        core = norm.lstrip(_LEAD_PUNCT)
        stripped = core.rstrip(_TRAIL_PUNCT)
        # Keep a closing ")" that belongs to "(555)" style area codes out of the core but keep digits.
        trail_src = raw.rstrip()
        trail = trail_src[len(trail_src.rstrip(".,!?;:…")):]
        tokens.append(Token(i, raw, stripped, stripped.lower(), trail))
    return tokens


@dataclass(frozen=True, slots=True)
class Group:
    """One chunk of a number: its digits, the words it covers (inclusive) and its written shape."""

    digits: str
    start: int
    end: int
    shape: str  # written tokens with digits replaced by "d" (e.g. "dd-dd-dd"); "" when spoken
    plus: bool = False  # written with a leading "+" (international phone form)
    money: bool = False  # written with a currency sign: an amount unless a cue word says otherwise


def written_digits(core: str) -> tuple[str, str, bool] | None:
    """Digits, shape and plus-flag of a written number token; None for decimals, times, money, ordinals."""
    if not core or not _WRITTEN_NUMBER.match(core) or _DECIMAL.search(core):
        return None
    digits = re.sub(r"[^0-9]", "", core)
    if not digits:
        return None
    shape = re.sub(r"[0-9]", "d", core.lstrip("$£€+").replace("(", "").replace(")", ""))
    return digits, shape, core.startswith("+")


def _split_hyphenated(low: str) -> list[str]:
    parts = low.split("-")
    if len(parts) > 1 and all(p in UNITS or p in TEENS or p in TENS for p in parts):
        return parts
    return [low]


def _is_number_word(w: str) -> bool:
    return w in UNITS or w in TEENS or w in TENS


def number_groups(tokens: list[Token]) -> list[Group]:
    """All number groups in the utterance, in order.

    Spoken words are expanded to an atom list first (hyphenated "twenty-seven" becomes two atoms)
    and then parsed with a tiny grammar: [double|triple] unit | teen | tens [unit] | X hundred [and] Y
    | X thousand [and] Y.  Digits stay as the caller said them: "oh five" is "05", not 5.
    """
    atoms: list[tuple[str, int]] = []  # (lower-case atom, word index); "#<digits>" for written numbers
    written: dict[int, tuple[str, str, bool]] = {}
    for k, t in enumerate(tokens):
        wd = written_digits(t.core)
        if wd is None and k + 1 < len(tokens) and tokens[k + 1].low in SCALES:
            wd = written_digits(t.core.replace(".", ""))  # "1.4 trillion": keep the digits
        if wd is not None:
            written[len(atoms)] = wd
            atoms.append((_WRITTEN, t.index))
            continue
        for part in _split_hyphenated(t.low):
            atoms.append((part, t.index))

    n = len(atoms)
    numeric = [False] * n
    for i, (a, _) in enumerate(atoms):
        if a == _WRITTEN or (a in UNITS and a not in _AMBIGUOUS_ZERO) or a in TEENS or a in TENS:
            numeric[i] = True
    # "Oh, four seven one": a capitalised "Oh," is the interjection, not a zero
    interjection = {i for i, (a, w) in enumerate(atoms)
                    if a in _AMBIGUOUS_ZERO and tokens[w].core[:1].isupper() and tokens[w].trail}
    changed = True
    while changed:  # "oh" is a zero only next to a number (or to another such "oh", or after "double")
        changed = False
        for i, (a, _) in enumerate(atoms):
            if numeric[i] or a not in _AMBIGUOUS_ZERO or i in interjection:
                continue
            prev_ok = i > 0 and (numeric[i - 1] or atoms[i - 1][0] in REPEATS)
            next_ok = i + 1 < n and numeric[i + 1]
            if prev_ok or next_ok:
                numeric[i] = True
                changed = True

    def unit_at(i: int) -> int | None:
        if i < n and numeric[i] and atoms[i][0] in UNITS:
            return UNITS[atoms[i][0]]
        return None

    def below_hundred(i: int) -> tuple[int, int] | None:
        """Value and next index of a 1-99 chunk (tens [unit] | teen | unit) starting at i."""
        if i >= n or not numeric[i]:
            return None
        a = atoms[i][0]
        if a in TENS:
            u = unit_at(i + 1)
            if u:
                return TENS[a] + u, i + 2
            return TENS[a], i + 1
        if a in TEENS:
            return TEENS[a], i + 1
        if a in UNITS:
            return UNITS[a], i + 1
        return None

    groups: list[Group] = []
    i = 0
    while i < n:
        a, widx = atoms[i]
        if a == _WRITTEN:
            d, shape, plus = written[i]
            groups.append(Group(d, widx, widx, shape, plus, tokens[widx].core[:1] in "$£€"))
            i += 1
            continue
        if a in REPEATS and i + 1 < n and numeric[i + 1]:
            k = REPEATS[a]
            nxt_atom = atoms[i + 1][0]
            if nxt_atom == _WRITTEN:
                d = written[i + 1][0]
                digits, j = d[0] * (k - 1) + d, i + 2
            elif nxt_atom in UNITS:  # "double four" -> 44, "triple oh" -> 000
                digits, j = str(UNITS[nxt_atom]) * k, i + 2
            else:  # "double twenty" is rare; repeat the first digit as callers mean
                chunk = below_hundred(i + 1)
                assert chunk is not None
                s_val = str(chunk[0])
                digits, j = s_val[0] * (k - 1) + s_val, chunk[1]
            groups.append(Group(digits, widx, atoms[j - 1][1], ""))
            i = j
            continue
        if not numeric[i]:
            i += 1
            continue
        chunk = below_hundred(i)
        assert chunk is not None
        val, j = chunk
        digits = str(val)
        end_atom = j - 1
        if j < n and atoms[j][0] == "hundred" and a not in _AMBIGUOUS_ZERO:
            val *= 100
            j += 1
            end_atom = j - 1
            k = j + 1 if j < n and atoms[j][0] == "and" else j
            rest = below_hundred(k)
            if rest is not None and (k > j or atoms[k][0] in TENS or atoms[k][0] in TEENS):
                val += rest[0]
                j = rest[1]
                end_atom = j - 1
            digits = str(val)
        if j < n and atoms[j][0] == "thousand" and a not in _AMBIGUOUS_ZERO:
            val *= 1000
            j += 1
            end_atom = j - 1
            k = j + 1 if j < n and atoms[j][0] == "and" else j
            rest = below_hundred(k)
            if rest is not None:
                sub, j2 = rest
                if j2 < n and atoms[j2][0] == "hundred":
                    sub *= 100
                    j2 += 1
                    r2 = below_hundred(j2 + 1 if j2 < n and atoms[j2][0] == "and" else j2)
                    if r2 is not None:
                        sub += r2[0]
                        j2 = r2[1]
                val += sub
                j = j2
                end_atom = j - 1
            digits = str(val)
        groups.append(Group(digits, widx, atoms[end_atom][1], ""))
        i = j
    return groups


@dataclass(frozen=True, slots=True)
class Run:
    """Groups that follow each other with nothing but fillers/separators between them."""

    groups: tuple[Group, ...]

    @property
    def digits(self) -> str:
        return "".join(g.digits for g in self.groups)

    @property
    def start(self) -> int:
        return self.groups[0].start

    @property
    def end(self) -> int:
        return self.groups[-1].end

    @property
    def plus(self) -> bool:
        return self.groups[0].plus

    @property
    def money(self) -> bool:
        return any(g.money for g in self.groups)


def number_runs(tokens: list[Token], groups: list[Group]) -> list[Run]:
    runs: list[Run] = []
    current: list[Group] = []
    for g in groups:
        if current:
            gap = tokens[current[-1].end + 1 : g.start]
            if all(t.low in CONNECTORS or not t.low for t in gap):
                current.append(g)
                continue
            runs.append(Run(tuple(current)))
        current = [g]
    if current:
        runs.append(Run(tuple(current)))
    return runs
