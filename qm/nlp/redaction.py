"""PII redaction of transcribed speech, applied before anything is stored.

Works on Whisper's word list, not on a string, so every redacted word keeps its index and the
caller can map a redaction back to word timings (to tone out the audio, see ``qm.redacted_audio``).

Card-number policy (the requirement is *zero leaked card numbers*):

* A Luhn-valid digit run of 13-19 digits is always ``CARD``, whatever cue words surround it.
* A 13-19 digit run that fails Luhn is *still* ``CARD`` (fail closed): Whisper mishears single
  digits, so a real card number read aloud often fails Luhn, and no ordinary speech in a contact
  centre contains 13+ consecutive digits.  The only exception is an explicit phone form (written
  with ``+``, or a phone cue word and at most 13 digits), which is ``PHONE`` -- redacted either way.
* Runs longer than 19 digits (card + security code + expiry read in one breath) are split at the
  longest Luhn-valid 13-19 digit stretch; the pieces left over are typed from their cue words and,
  failing that, redacted as ``CARD`` too, because they are glued to a card number.

Everything else is cue-driven: a digit run takes the type of the nearest cue word before it (or,
failing that, just after it) whose type fits the run's length; runs with no fitting cue are only
redacted when their shape is unambiguous (10-12 digits -> phone, dd-dd-dd -> sort code,
ddd-dd-dddd -> SSN).  Runs followed by a unit ("20 minutes", "3 items", "5 pm") are never PII.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from qm.nlp.spoken_numbers import Run, Token, number_groups, number_runs, surface_words, tokenise
from qm.spacy_pipelines import entities
from qm.types import PII_TYPES

if TYPE_CHECKING:
    import spacy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedactionConfig:
    """Which PII types to redact; a type left out is detected (so it cannot be mistyped) but kept."""

    types: frozenset[str] = frozenset(PII_TYPES)

    def __post_init__(self) -> None:
        types = frozenset(self.types)
        unknown = sorted(types - set(PII_TYPES))
        if unknown:
            raise ValueError(f"RedactionConfig.types: unknown PII type(s) {unknown}; known: {list(PII_TYPES)}")
        object.__setattr__(self, "types", types)


@dataclass(frozen=True)
class WordRedaction:
    text: str
    word_types: list[str | None] = field(default_factory=list)
    count: int = 0


def luhn_valid(digits: str) -> bool:
    """The ISO/IEC 7812 check digit test every payment card number passes."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# ---------------------------------------------------------------- cue words
_CUES: dict[str, tuple[str, ...]] = {
    "CARD": ("card", "cards", "card's", "visa", "mastercard", "master card", "amex", "american express",
             "debit", "credit", "long number", "maestro", "discover", "pan"),
    "CVV": ("security code", "security number", "security digits", "cvv", "cvv2", "cvc", "cvc2", "cv2",
            "csc", "three digits", "3 digits", "three digit", "3 digit", "four digit code", "last three",
            "back of the card", "on the back", "three numbers", "3 numbers", "digit code", "free digits"),
    "EXPIRY": ("expiry", "expires", "expire", "expired", "expiring", "expiration", "exp", "valid until",
               "valid till", "valid to", "valid thru", "valid through", "good through", "good thru",
               "end date", "valid from",
               # tiny.en mishearings of "expiry"/"expiration" seen in bench/redaction_whisper_e2e.py
               "primary date", "exploration", "expiry date"),
    "ACCOUNT": ("account", "accounts", "acct", "account's", "count number", "a count"),
    # "sword code", "short code", "a count", "free digits": tiny.en mishearings of the cue words
    "SORT_CODE": ("sort code", "sortcode", "sort", "sword code", "short code"),
    "SSN": ("social security", "ssn", "social"),
    "NI": ("national insurance", "ni number", "insurance number", "n i number", "national id",
           "national identity"),
    "PHONE": ("phone", "telephone", "mobile", "cell", "cellphone", "landline", "call me", "call you",
              "call back", "callback", "reach me", "contact number", "text me", "ring me", "whatsapp",
              "phone number", "number to call", "dial", "reached on", "reached at", "extension"),
}
_CUE_PHRASES: list[tuple[tuple[str, ...], str]] = sorted(
    ((tuple(p.split()), cat) for cat, phrases in _CUES.items() for p in phrases),
    key=lambda x: -len(x[0]),
)
_BEFORE_WINDOW = 12  # words between a cue and the number it introduces
_AFTER_WINDOW = 4  # "123 is the security code"
_PAYMENT_WINDOW = 30
_BRIDGE_WORDS = 4  # words that may interrupt a card number read in two halves

_UNIT_WORDS = frozenset("""
minute minutes min mins hour hours hr hrs second seconds secs day days week weeks month months year years
yr yrs pm am p.m a.m o'clock oclock pound pounds quid pence p penny dollar dollars bucks cent cents euro
euros percent per item items times time people person calls call emails texts letters pages times
kilos kg miles mile km metres meters feet foot inches gb mb gig gigs megs mbps tablets boxes packs units
orders order parcels parcel bags rooms floors times attempts goes tries weeks' months' years' hours'
""".split())
# A number introduced by one of these is an identifier of something else ("error 404", "room 101").
_NON_PII_LABELS = frozenset("""
error room flight version order ticket case reference ref invoice page model step option floor platform
gate bus route channel item line question chapter level plan tariff batch unit apartment flat house

""".split())
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}


@dataclass(frozen=True, slots=True)
class _Cue:
    start: int
    end: int
    category: str


def _find_cues(tokens: list[Token]) -> list[_Cue]:
    lows = [t.low for t in tokens]
    cues: list[_Cue] = []
    i = 0
    while i < len(lows):
        for phrase, cat in _CUE_PHRASES:
            k = len(phrase)
            if tuple(lows[i : i + k]) == phrase:
                cues.append(_Cue(i, i + k - 1, cat))
                i += k - 1
                break
        i += 1
    return cues


def _expiry_fits(d: str) -> bool:
    n = len(d)
    if n == 2:
        return 1 <= int(d) <= 12
    if n == 3:
        return d[0] != "0"
    if n == 4:
        return 1 <= int(d[:2]) <= 12 or d.startswith("20")
    if n == 5:
        return d[0] != "0" and d[1:3] == "20"
    if n == 6:
        return 1 <= int(d[:2]) <= 12 and d[2:4] == "20"
    return False


_FITS: dict[str, Callable[[str], bool]] = {
    "CARD": lambda d: 13 <= len(d) <= 19,
    "CVV": lambda d: 3 <= len(d) <= 4,
    "EXPIRY": _expiry_fits,
    "ACCOUNT": lambda d: 6 <= len(d) <= 12,
    "SORT_CODE": lambda d: len(d) == 6,
    "SSN": lambda d: len(d) == 9,
    "NI": lambda d: len(d) == 6,
    "PHONE": lambda d: 7 <= len(d) <= 13,
}
_CUE_TYPE = {"SSN": "NATIONAL_ID", "NI": "NATIONAL_ID"}

# ---------------------------------------------------------------- names
_NAME_STOP = frozenset("""
i i'm im me my mine you your yours he him his she her hers we us our they them their it its it's this that
these those who what which when where why how a an the and or but so if then than to of in on at for from
with by about as into onto over under is am are was were be been being do does did done have has had
having will would shall should can could may might must not no yes yeah yep yup nope ok okay alright right
sure well oh ah um uh er erm hmm hi hello hey bye goodbye thanks thank cheers please sorry excuse pardon
sir madam maam ma'am mate love dear guys folks everyone everybody someone somebody anyone nobody calling
speaking here there just only also very really actually basically today tomorrow yesterday now later soon
monday tuesday wednesday thursday friday saturday sunday january february march april june july
august september october november december visa mastercard amex maestro paypal card account bank
customer customers service services support team agent manager supervisor department billing
sales help desk helpdesk english british american god jesus christ lord good morning afternoon evening
night great fine happy glad new old first last next one two three four five six seven eight nine ten
number code phone email address name surname security expiry date sort street road lane avenue
welcome brilliant perfect lovely cool awesome absolutely definitely certainly exactly indeed gonna
mr mrs ms miss mister missus dr mx doctor prof professor email email's e-mail mail
wanna gotta kind sort going trying looking wondering ringing checking still afraid not never ever
""".split())
_NAME_CUES: list[tuple[tuple[str, ...], bool]] = [  # (phrase, lower-case name allowed)
    (("my", "name", "is"), True), (("my", "name's"), True), (("name", "is"), True), (("name's",), True),
    (("first", "name", "is"), True), (("last", "name", "is"), True), (("surname", "is"), True),
    (("full", "name", "is"), True), (("call", "me"), False), (("i'm",), False), (("i", "am"), False),
    (("this", "is"), False), (("it's",), False), (("speaking", "to"), False), (("speaking", "with"), False),
    (("talking", "to"), False), (("talk", "to"), False), (("spoke", "to"), False), (("spoke", "with"), False),
    (("ask", "for"), False), (("called",), False), (("named",), False), (("hi",), False), (("hello",), False),
    (("hey",), False), (("thanks",), False), (("thank", "you"), False), (("bye",), False),
    (("goodbye",), False), (("cheers",), False), (("dear",), False),
    (("holder", "is"), False), (("through", "to"), False), (("transfer", "you", "to"), False),
    (("mr",), True), (("mrs",), True), (("ms",), True), (("miss",), False), (("mister",), True),
    (("missus",), True), (("dr",), True), (("mx",), True),
]
_NAME_CUES.sort(key=lambda x: -len(x[0]))
_INTRO_CUES = frozenset({("this", "is"), ("it's",)})
_INTRO_FOLLOW = frozenset({"speaking", "from", "here", "calling", "with", "at", "on"})
_TITLES = frozenset({"mr", "mrs", "ms", "mister", "missus", "dr", "mx"})
_SPELL_CUES = frozenset({"spelled", "spelt", "spell", "spelling"})
_NAME_WORD = re.compile(r"^[^\W\d_][\w'’\-]*$")
_CONTRACTION = re.compile(r"['’](ve|ll|re|d|m|t)$|n['’]t$")
_SENTENCE_END = re.compile(r"[.!?…]$")

# ---------------------------------------------------------------- e-mail
_EMAIL = re.compile(r"^[\w.+\-]+@[\w\-]+(\.[\w\-]+)+$")
_DOMAIN = re.compile(r"^[\w\-]+(\.[\w\-]+)+$")
_TLDS = frozenset("com co uk org net io edu gov ie us ca au de fr es it nl info biz me ac tv app dev".split())
_EMAIL_LINK = frozenset({"dot", "underscore", "dash", "hyphen", "period", "point"})
_EMAIL_CUES = frozenset({"email", "e-mail", "emails", "email's", "mail", "address", "address's"})
_EMAIL_LEAD = frozenset({"is", "it's", "its", "address", "was", "the", "my", "me", "at", "to", "of", "uh", "um"})
_EMAIL_WINDOW = 14
_LOCAL_STOP = _NAME_STOP | frozenset({"email", "e-mail", "mail", "address", "send", "contact", "use"})

# ---------------------------------------------------------------- national IDs
_NI_COMPACT = re.compile(r"^[A-Za-z]{2}[0-9]{6}[A-Da-d]?$")
_SSN_SHAPE = "ddd-dd-dddd"
_THOUSANDS = re.compile(r"^d{1,3}(,ddd)+$")
_SORT_SHAPE = "dd-dd-dd"


class _Labels:
    """Word labels; first claim wins, so earlier (more specific) detectors take precedence."""

    def __init__(self, n: int) -> None:
        self.types: list[str | None] = [None] * n

    def free(self, start: int, end: int) -> bool:
        return all(t is None for t in self.types[start : end + 1])

    def claim(self, start: int, end: int, pii: str) -> None:
        for i in range(max(start, 0), min(end, len(self.types) - 1) + 1):
            if self.types[i] is None:
                self.types[i] = pii


class Redactor:
    """Detects PII in a word list and renders the redacted text with typed tags.

    Pass a whole speaker turn (or a speaker's whole call), not one sentence: callers pause and
    Whisper puts sentence breaks in the middle of card numbers ("So it's 4929 0123. 4567 8901."),
    and each half alone is too short to be recognised.  Cue windows are counted in words, so a
    long word list costs nothing in accuracy; split the result into utterances by word index.
    """

    def __init__(self, config: RedactionConfig | None = None, nlp: spacy.Language | None = None) -> None:
        self.config = config or RedactionConfig()
        if nlp is None and "NAME" in self.config.types:
            nlp = entities()
        self._nlp = nlp
        self._lock = threading.Lock()

    # ------------------------------------------------------------ public API
    def redact_words(self, words: Sequence[str]) -> WordRedaction:
        return self.redact_batch([words])[0]

    def redact_text(self, text: str) -> tuple[str, int]:
        if not isinstance(text, str):
            raise TypeError(f"redact_text: expected str, got {type(text).__name__}")
        r = self.redact_words([" " + w for w in text.split()])
        return r.text, r.count

    def redact_batch(self, batch: Sequence[Sequence[str]]) -> list[WordRedaction]:
        """``redact_words`` on many word lists; spaCy runs batched (~3x faster than one by one)."""
        checked = [_check_words(words) for words in batch]
        surfaces = [surface_words(words) for words in checked]
        tokens = [tokenise(surf) for surf, _ in surfaces]
        labels = [self._detect_non_names(t) for t in tokens]
        if "NAME" in self.config.types:
            ner = self._spacy_names(tokens)
            for t, lab, spans in zip(tokens, labels, ner, strict=True):
                _apply_names(t, lab, _pattern_names(t) + spans)
        out = []
        for words, (_, owner), lab in zip(checked, surfaces, labels, strict=True):
            types = [x if x in self.config.types else None for x in (lab.types[o] for o in owner)]
            text, count = _render(words, types)
            out.append(WordRedaction(text, types, count))
        return out

    def redact_segments(self, segments: Sequence[Sequence[str]]) -> list[WordRedaction]:
        """Redact consecutive word lists of ONE speaker as a single stream; one result per segment.

        Turns end at pauses, and callers pause while reading a card ("4111 1111 ... 1111 1111").
        Redacted one turn at a time, the second half has no cue and too few digits to be caught;
        as one stream it is the same digit run as the first half.  Use this with all of a
        speaker's turns in a call (their words only, in time order).
        """
        checked = [_check_words(seg) for seg in segments]
        whole = self.redact_words([w for seg in checked for w in seg])
        out, pos = [], 0
        for seg in checked:
            types = whole.word_types[pos : pos + len(seg)]
            pos += len(seg)
            text, count = _render(seg, types)
            out.append(WordRedaction(text, types, count))
        return out

    # ------------------------------------------------------------ detection
    @staticmethod
    def _detect_non_names(tokens: list[Token]) -> _Labels:
        labels = _Labels(len(tokens))
        cues = _find_cues(tokens)
        _detect_emails(tokens, labels)
        _detect_ni_letters(tokens, labels, cues)
        _detect_month_expiry(tokens, labels, cues)
        runs = number_runs(tokens, number_groups(tokens))
        _detect_numbers(tokens, runs, labels, cues)
        return labels

    def _spacy_names(self, batch: list[list[Token]]) -> list[list[tuple[int, int]]]:
        """PERSON entities as word spans, keeping only capitalised words.

        Whisper writes names capitalised; spaCy's lower-case PERSON hits on transcripts are mostly
        noise ("the wood chuck song"), and lower-case names after "my name is" are caught by the
        patterns.  Utterances without a capitalised candidate word skip spaCy entirely, which
        changes no result (nothing could be kept) and saves most of the cost.
        """
        result: list[list[tuple[int, int]]] = [[] for _ in batch]
        if self._nlp is None:
            return result
        jobs: list[tuple[int, str, list[tuple[int, int]]]] = []
        for k, tokens in enumerate(batch):
            if not any(_name_candidate(t) for t in tokens):
                continue
            offsets: list[tuple[int, int]] = []
            pos = 0
            for t in tokens:
                offsets.append((pos, pos + len(t.raw)))
                pos += len(t.raw) + 1
            jobs.append((k, " ".join(t.raw for t in tokens), offsets))
        if not jobs:
            return result
        with self._lock:
            docs = list(self._nlp.pipe([text for _, text, _ in jobs], batch_size=64))
        for (k, _, offsets), doc in zip(jobs, docs, strict=True):
            tokens = batch[k]
            for ent in doc.ents:
                if ent.label_ != "PERSON":
                    continue
                idx = [i for i, (a, b) in enumerate(offsets) if a < ent.end_char and b > ent.start_char]
                result[k] += [(i, i) for i in idx if _name_candidate(tokens[i])]
        return result


def _check_words(words: Sequence[str]) -> list[str]:
    if isinstance(words, str):
        raise TypeError("redact_words: expected a sequence of words, got a str; use redact_text for text")
    words = list(words)
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise TypeError(f"redact_words: word {i} is {type(w).__name__}, expected str")
    return words


def _name_candidate(t: Token) -> bool:
    return (bool(t.core) and t.core[0].isupper() and _NAME_WORD.match(t.core) is not None
            and t.low not in _NAME_STOP and not _CONTRACTION.search(t.low))


def _apply_names(tokens: list[Token], labels: _Labels, found: list[tuple[int, int]]) -> None:
    names: set[str] = set()
    for s, e in found:
        for i in range(s, e + 1):
            t = tokens[i]
            if labels.types[i] is None and _NAME_WORD.match(t.core) and t.low not in _NAME_STOP \
                    and not _CONTRACTION.search(t.low):
                labels.types[i] = "NAME"
                names.add(t.core)
    if names:  # the same name said again elsewhere in the word list
        for i, t in enumerate(tokens):
            if labels.types[i] is None and t.core in names:
                labels.types[i] = "NAME"


# ---------------------------------------------------------------- numbers
def _ranked_cues(run_start: int, run_end: int, cues: list[_Cue]) -> list[_Cue]:
    """Cues before the run (nearest first), then cues just after it."""
    before = [c for c in cues if c.end < run_start and run_start - c.end <= _BEFORE_WINDOW]
    after = [c for c in cues if c.start > run_end and c.start - run_end <= _AFTER_WINDOW]
    before.sort(key=lambda c: run_start - c.end)
    after.sort(key=lambda c: c.start - run_end)
    return before + after


def _cue_type(digits: str, start: int, end: int, cues: list[_Cue]) -> str | None:
    for c in _ranked_cues(start, end, cues):
        fits = _FITS.get(c.category)
        if fits is not None and fits(digits):
            return _CUE_TYPE.get(c.category, c.category)
    return None


def _followed_by_unit(tokens: list[Token], end: int) -> bool:
    if end + 1 >= len(tokens):
        return False
    nxt = tokens[end + 1].low.rstrip(".")
    return nxt in _UNIT_WORDS


def _payment_context(start: int, cues: list[_Cue], card_words: list[int]) -> bool:
    if any(0 < start - w <= _PAYMENT_WINDOW for w in card_words):
        return True
    return any(c.category in ("CARD", "CVV", "EXPIRY") and 0 <= start - c.end <= _PAYMENT_WINDOW for c in cues)


_CARD_LENGTH_RANK = {16: 0, 15: 1, 19: 2, 13: 3}  # common card lengths first (Visa/MC, Amex, ...)


def _card_subrange(run: Run, card_length_run: bool) -> tuple[int, int] | None:
    """Group-aligned Luhn-valid stretch of 13-19 digits: common card lengths first, then earliest.

    For a run that is itself of card length but fails Luhn (likely a misheard card), a chance
    Luhn-valid stretch inside it would split the number into wrongly typed pieces, so only a
    leading stretch (card read first, then expiry/CVV) or a 15/16/19-digit stretch may be split off.
    """
    g = run.groups
    best: tuple[int, int] | None = None
    best_key: tuple[int, int] | None = None
    for i in range(len(g)):
        total = 0
        for j in range(i, len(g)):
            total += len(g[j].digits)
            if total > 19:
                break
            if total < 13 or (card_length_run and i > 0 and total not in (15, 16, 19)):
                continue
            key = (_CARD_LENGTH_RANK.get(total, 4), i)
            if (best_key is None or key < best_key) and luhn_valid("".join(x.digits for x in g[i : j + 1])):
                best, best_key = (i, j), key
    if best is not None and card_length_run and best[0] == 0 \
            and len(run.digits) - sum(len(x.digits) for x in g[: best[1] + 1]) < 3:
        return None  # a 1-2 digit tail is not an expiry or CVV: keep the run whole
    return best


def _detect_numbers(tokens: list[Token], runs: list[Run], labels: _Labels, cues: list[_Cue]) -> None:
    card_words: list[int] = []

    def classify(run: Run, glued_to_card: bool) -> None:
        start, end, d = run.start, run.end, run.digits
        if not labels.free(start, end):
            # part of the run is already an e-mail/NI/expiry: classify only the free groups
            free = [grp for grp in run.groups if labels.free(grp.start, grp.end)]
            if not free or len(free) == len(run.groups):
                return
            for piece in _contiguous(run, free):
                classify(piece, glued_to_card)
            return
        n = len(d)
        if n >= 13:
            if n <= 19 and luhn_valid(d):
                labels.claim(start, end, "CARD")
                card_words.append(end)
                return
            ranked = _ranked_cues(start, end, cues)
            phone_cue = bool(ranked) and ranked[0].category == "PHONE"
            if (run.plus and n <= 15) or (phone_cue and n <= 13):
                labels.claim(start, end, "PHONE")
                return
            sub = _card_subrange(run, card_length_run=n <= 19) if n > 13 else None
            if sub is not None:
                i, j = sub
                card = Run(run.groups[i : j + 1])
                labels.claim(card.start, card.end, "CARD")
                card_words.append(card.end)
                for rest in (run.groups[:i], run.groups[j + 1 :]):
                    if rest:
                        classify(Run(tuple(rest)), True)
                return
            labels.claim(start, end, "CARD")  # fail closed: see module docstring
            card_words.append(end)
            return
        if _followed_by_unit(tokens, end) and not glued_to_card:
            return
        shape = run.groups[0].shape if len(run.groups) == 1 else ""
        if shape == _SORT_SHAPE:
            labels.claim(start, end, "SORT_CODE")
            return
        if shape == _SSN_SHAPE:
            labels.claim(start, end, "NATIONAL_ID")
            return
        typed = _cue_type(d, start, end, cues)
        if typed is not None:
            labels.claim(start, end, typed)
            return
        if run.money and not glued_to_card:
            return  # "$40" is an amount unless a cue word (above) said it is an account number
        if start > 0 and tokens[start - 1].low in _NON_PII_LABELS and not glued_to_card:
            return
        if len(run.groups) == 1 and _THOUSANDS.match(shape) and not glued_to_card:
            return  # "1,250,000": an amount, not an identifier (cue-typed runs were handled above)
        if run.plus and 8 <= n <= 15:
            labels.claim(start, end, "PHONE")
            return
        if 10 <= n <= 12 and not _year_list(run):
            labels.claim(start, end, "PHONE")
            return
        if "/" in "".join(gr.shape for gr in run.groups) and n in (3, 4, 6) and _expiry_fits(d):
            if glued_to_card or _payment_context(start, cues, card_words):
                labels.claim(start, end, "EXPIRY")
            return
        if glued_to_card or (n >= 3 and _payment_context(start, cues, card_words)):
            guess = _payment_guess(run)
            for s, e, t in guess:
                labels.claim(s, e, t)
            if not guess and glued_to_card:
                labels.claim(start, end, "CARD")

    handled: set[int] = set()
    for k in range(len(runs) - 1):
        # "4929 0123. Sorry. 4567 8901": a card number interrupted by a few words
        a, b = runs[k], runs[k + 1]
        joined = a.digits + b.digits
        if k in handled or b.start - a.end - 1 > _BRIDGE_WORDS or not 13 <= len(joined) <= 19:
            continue
        if len(a.digits) >= 4 and len(b.digits) >= 4 and luhn_valid(joined) \
                and labels.free(a.start, a.end) and labels.free(b.start, b.end):
            labels.claim(a.start, a.end, "CARD")
            labels.claim(b.start, b.end, "CARD")
            card_words.append(b.end)
            handled.update((k, k + 1))
    for k, run in enumerate(runs):
        if k not in handled:
            classify(run, False)


def _year_list(run: Run) -> bool:
    """'2019, 2020, 2021' or 'nineteen twelve, nineteen thirteen, ...' is a list of years, not a phone."""
    if len(run.groups) < 2 or any(g.shape not in ("", "dddd") for g in run.groups):
        return False
    d, pos, cuts = run.digits, 0, set()
    for g in run.groups:
        pos += len(g.digits)
        cuts.add(pos)
    chunks = range(4, len(d) + 1, 4)
    return len(d) % 4 == 0 and all(c in cuts for c in chunks) and all(d[c - 4 : c - 2] in ("19", "20") for c in chunks)


def _payment_guess(run: Run) -> list[tuple[int, int, str]]:
    """Type an uncued number said during card capture: expiry and/or security code."""
    d = run.digits
    n = len(d)
    if n == 3:
        return [(run.start, run.end, "CVV")]
    if n == 4:
        yy = int(d[2:])
        t = "EXPIRY" if 1 <= int(d[:2]) <= 12 and 20 <= yy <= 45 else "CVV"
        return [(run.start, run.end, t)]
    if n in (5, 6) and _expiry_fits(d):
        return [(run.start, run.end, "EXPIRY")]
    # expiry followed by security code in one breath: split at a group boundary
    acc = ""
    for k, g in enumerate(run.groups[:-1]):
        acc += g.digits
        rest = d[len(acc):]
        if len(acc) in (3, 4) and _expiry_fits(acc) and 3 <= len(rest) <= 4:
            return [(run.start, g.end, "EXPIRY"), (run.groups[k + 1].start, run.end, "CVV")]
    if n >= 6:  # part of a card number read in pieces: fail closed
        return [(run.start, run.end, "CARD")]
    return []


def _contiguous(run: Run, free: list) -> list[Run]:
    pieces: list[list] = []
    for g in run.groups:
        if g in free:
            if pieces and pieces[-1] and run.groups.index(pieces[-1][-1]) == run.groups.index(g) - 1:
                pieces[-1].append(g)
            else:
                pieces.append([g])
    return [Run(tuple(p)) for p in pieces]


def _detect_month_expiry(tokens: list[Token], labels: _Labels, cues: list[_Cue]) -> None:
    """'expires May 2027' / 'valid until June twenty seven': the month name is part of the expiry."""
    groups = number_groups(tokens)
    for t in tokens:
        if t.low not in _MONTHS:
            continue
        expiry_cue = any(
            c.category == "EXPIRY" and 0 < t.index - c.end <= 6 for c in cues
        )
        if not expiry_cue:
            continue
        following = [g for g in groups if g.start > t.index and g.start - t.index <= 2]
        if not following:
            continue
        year: list = []
        for g in groups:
            if g.start < following[0].start:
                continue
            if year and g.start > year[-1].end + 1:
                break
            year.append(g)
        digits = "".join(g.digits for g in year)
        if len(digits) in (2, 4):
            labels.claim(t.index, year[-1].end, "EXPIRY")


def _detect_ni_letters(tokens: list[Token], labels: _Labels, cues: list[_Cue]) -> None:
    """UK National Insurance numbers: two prefix letters, six digits, one suffix letter."""
    for t in tokens:
        compact = re.sub(r"[\-.]", "", t.core)  # "QQ123456C" or spelled "Q-Q-1-2-3-4-5-6-C"
        if _NI_COMPACT.match(compact) and any(ch.isdigit() for ch in compact):
            labels.claim(t.index, t.index, "NATIONAL_ID")
    groups = number_groups(tokens)
    runs = number_runs(tokens, groups)
    for run in runs:
        if len(run.digits) != 6:
            continue
        s, e = run.start, run.end
        letters_before = _letters_before(tokens, s)
        if letters_before is None:
            continue
        ni_cue = any(c.category == "NI" and 0 < s - c.end <= _BEFORE_WINDOW for c in cues)
        after = tokens[e + 1] if e + 1 < len(tokens) else None
        suffix = after is not None and len(after.core) == 1 and after.core.upper() in "ABCD"
        upper_prefix = all(tokens[i].core.isupper() for i in range(letters_before, s))
        if ni_cue or (upper_prefix and suffix):
            labels.claim(letters_before, e + 1 if suffix else e, "NATIONAL_ID")


def _letters_before(tokens: list[Token], s: int) -> int | None:
    """Start index of the two NI prefix letters right before word s ("QQ" or "Q Q")."""
    if s >= 1 and len(tokens[s - 1].core) == 2 and tokens[s - 1].core.isalpha() \
            and tokens[s - 1].low not in _NAME_STOP:
        return s - 1
    if s >= 2 and all(len(tokens[i].core) == 1 and tokens[i].core.isalpha() for i in (s - 2, s - 1)):
        return s - 2
    return None


# ---------------------------------------------------------------- e-mail
def _detect_emails(tokens: list[Token], labels: _Labels) -> None:
    n = len(tokens)
    for t in tokens:
        if _EMAIL.match(t.core):
            labels.claim(t.index, t.index, "EMAIL")
    for c, t in enumerate(tokens):
        # "email is tjones67.com" / "address is lucy underscorby and outlook.com": Whisper garbles
        # spoken addresses, but an e-mail cue followed by a domain still marks the words between
        if t.low not in _EMAIL_CUES:
            continue
        for k in range(c + 1, min(c + _EMAIL_WINDOW, n)):
            end = _domain_end(tokens, k) if tokens[k].low not in ("dot", "point") else None
            if end is None and tokens[k].low in ("dot", "point") and k + 1 < n and tokens[k + 1].low in _TLDS:
                end = k + 1
            if end is None:
                if _SENTENCE_END.search(tokens[k].raw):
                    break
                continue
            start = c + 1
            while start < k and tokens[start].low in _EMAIL_LEAD:
                start += 1
            labels.claim(start, end, "EMAIL")
            break
    for a, t in enumerate(tokens):
        if t.low not in ("at", "@") or a == 0 or a + 1 >= n:
            continue
        end = _domain_end(tokens, a + 1)
        if end is None:
            continue
        start = _local_start(tokens, a - 1)
        if start is None:
            continue
        labels.claim(start, end, "EMAIL")


def _domain_end(tokens: list[Token], i: int) -> int | None:
    n = len(tokens)
    first = tokens[i]
    if _DOMAIN.match(first.core) and first.low.rsplit(".", 1)[-1] in _TLDS:
        return i
    if not first.core or first.low in _LOCAL_STOP or not re.match(r"^[\w\-.]+$", first.core):
        return None
    j, end = i + 1, None
    while j + 1 < n and tokens[j].low in ("dot", "point"):
        part = tokens[j + 1]
        if not re.match(r"^[\w\-.]+$", part.core):
            break
        end = j + 1
        j += 2
        if part.low in _TLDS and not (j + 1 < n and tokens[j].low in ("dot", "point")):
            break
    if end is not None and tokens[end].low.rsplit(".", 1)[-1] in _TLDS:
        return end
    return None


def _local_start(tokens: list[Token], i: int) -> int | None:
    """Walk back over the local part: words joined by 'dot'/'underscore', or up to 3 plain words."""
    if i < 0 or not tokens[i].core or tokens[i].low in _LOCAL_STOP:
        return None
    start = i
    plain = 1
    j = i - 1
    while j >= 0:
        tj = tokens[j]
        if tj.low in _EMAIL_LINK and j - 1 >= 0 and tokens[j - 1].core and tokens[j - 1].low not in _LOCAL_STOP:
            start = j - 1
            j -= 2
            continue
        if plain < 3 and tj.core and tj.low not in _LOCAL_STOP and re.match(r"^[\w.\-]+$", tj.core) \
                and not _SENTENCE_END.search(tj.raw) and not tj.raw.endswith(","):
            start = j
            plain += 1
            j -= 1
            continue
        break
    return start


# ---------------------------------------------------------------- names
def _pattern_names(tokens: list[Token]) -> list[tuple[int, int]]:
    lows = [t.low for t in tokens]
    spans = []
    n = len(tokens)
    for i in range(n):
        for phrase, allow_lower in _NAME_CUES:
            k = len(phrase)
            if tuple(lows[i : i + k]) != phrase:
                continue
            last = tokens[i + k - 1]
            if _SENTENCE_END.search(last.raw) and last.low not in _TITLES:
                break
            span = _name_after(tokens, i + k, allow_lower)
            if span is not None and phrase in _INTRO_CUES:
                # "this is Sarah speaking" is an introduction; "this is Tuesday's bill" is not
                nxt = span[1] + 1
                if not (nxt >= n or lows[nxt] in _INTRO_FOLLOW or tokens[span[1]].raw.endswith(",")):
                    span = None
            if span is not None:
                spans.append(span)
            break
        if lows[i] in _SPELL_CUES:
            j = i + 1
            letters = []
            while j < n and ((len(tokens[j].core) == 1 and tokens[j].core.isalpha())
                             or re.match(r"^([A-Za-z][\-.]){2,}[A-Za-z]?$", tokens[j].core)):
                letters.append(j)
                j += 1
            if len(letters) >= 2 or (letters and len(tokens[letters[0]].core) > 2):
                spans.append((letters[0], letters[-1]))
    return spans


def _name_after(tokens: list[Token], i: int, allow_lower: bool) -> tuple[int, int] | None:
    n = len(tokens)
    if i >= n:
        return None
    end = None
    for j in range(i, min(i + 3, n)):
        t = tokens[j]
        if not _NAME_WORD.match(t.core) or t.low in _NAME_STOP or _CONTRACTION.search(t.low):
            break
        capital = t.core[0].isupper()
        if not capital and not (allow_lower and j - i < 2):
            break
        end = j
        if t.raw.endswith((",", ".", "?", "!", ";", ":")):
            break
    return (i, end) if end is not None else None


# ---------------------------------------------------------------- rendering
def _render(words: list[str], types: list[str | None]) -> tuple[str, int]:
    """Words joined as given, each maximal run of one type replaced by its tag.

    The tag keeps the run's leading space and its last word's trailing punctuation, so
    "[" 4111", " 1111."]" becomes " [CARD]." and sentence splitting downstream still works.
    """
    spaced = any(w[:1].isspace() for w in words[1:])
    parts: list[str] = []
    count = 0
    i, n = 0, len(words)
    while i < n:
        t = types[i]
        if t is None:
            parts.append(words[i] if spaced or i == 0 else " " + words[i])
            i += 1
            continue
        j = i
        while j + 1 < n and types[j + 1] == t:
            j += 1
        lead = " " if i > 0 and (not spaced or words[i][:1].isspace()) else ""
        last = words[j].rstrip()
        trail = last[len(last.rstrip(".,!?;:…")):]
        parts.append(f"{lead}[{t}]{trail}")
        count += 1
        i = j + 1
    return "".join(parts).strip(), count


@lru_cache(maxsize=1)
def get_redactor() -> Redactor:
    """The process-wide redactor for the configured types (``QM_REDACT_TYPES``; spaCy is loaded once)."""
    from qm.config import get_settings

    types = frozenset(get_settings().redact_types)
    kept = sorted({"CARD", "CVV", "EXPIRY"} - types)
    if kept:  # allowed (redaction is configurable by type), but card data in clear is rarely lawful to keep
        log.warning("QM_REDACT_TYPES leaves %s unredacted: card data will be stored, logged and served in clear",
                    ", ".join(kept))
    return Redactor(RedactionConfig(types=types))
