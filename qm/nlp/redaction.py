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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from qm.nlp.spoken_numbers import (
    TEENS,
    TENS,
    UNITS,
    Group,
    Run,
    Token,
    number_groups,
    number_runs,
    surface_words,
    tokenise,
)
from qm.spacy_pipelines import entities
from qm.types import PII_TYPES

if TYPE_CHECKING:
    import spacy

log = logging.getLogger(__name__)


# Bump when detection changes: a stored transcript records the version it was redacted with, and a
# recording scored again after an upgrade is transcribed and redacted again (raw words are never kept).
REDACTION_VERSION = "2"  # 2: dates of birth, addresses, given names, answers to the other speaker's questions


def redaction_key(types: Collection[str]) -> str:
    """What a transcript's redaction was made with: the detector version and the redacted types."""
    return f"v{REDACTION_VERSION}:" + ",".join(t for t in PII_TYPES if t in set(types))


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
    "ACCOUNT": ("account", "accounts", "acct", "account's", "count number", "a count",
                # numbers that identify a customer's policy or membership as an account number does
                "policy number", "policy", "policy's", "member number", "membership number", "member id",
                "member i d", "customer number", "plan number", "contract number"),
    # "sword code", "short code", "a count", "free digits": tiny.en mishearings of the cue words
    "SORT_CODE": ("sort code", "sortcode", "sort", "sword code", "short code"),
    "SSN": ("social security", "ssn", "social"),
    "NI": ("national insurance", "ni number", "insurance number", "n i number", "national id",
           "national identity"),
    # a date or an address follows: they set where _detect_dob / _detect_address look (no number type)
    "DOB": ("date of birth", "date a birth", "date on birth", "birth date", "birthdate", "birthday", "birthday's",
            "born on", "born in", "born", "dob", "d o b", "d.o.b"),
    "ADDRESS": ("postcode", "postcode's", "post code", "post code's", "postal code", "address", "first line",
                "live at", "living at", "lives at", "moved to", "house number"),
    "ZIP": ("zip", "zip code", "zipcode"),
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


# ---------------------------------------------------------------- dates of birth and addresses
_DOB_WINDOW = 10  # words between the cue (or the start of a reply) and the date
_ORDINAL_DIGITS = re.compile(r"^\d{1,2}(st|nd|rd|th)$")
_NUMERIC_DATE = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-](\d{2}|\d{4})$")
_ORDINAL_WORDS = frozenset("""
first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth
fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth
""".split())
_NUMBER_WORDS = frozenset({*UNITS, *TEENS, *TENS, "hundred", "thousand"} - {"o"})  # "O" is a spelled letter
_ADDRESS_WINDOW = 12
_STREET_WORDS = frozenset("""
street st road rd lane ln avenue ave drive dr close court ct way crescent terrace place gardens grove
boulevard blvd square row mews parade walk rise view hill park circle cir parkway pkwy highway hwy
""".split())
_UNIT_WORDS_ADDR = frozenset({"flat", "apartment", "apt", "unit", "suite"})
# UK postcodes as Whisper writes them: "DL1 3HS", "DL-1, 3HS.", "SW1A", "M1"; US ZIP: five digits
_OUTWARD = re.compile(r"^[A-Z]{1,2}-?[0-9][A-Z0-9]?$")
_INWARD = re.compile(r"^[0-9][A-Z]{2}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


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
aye nah hiya righto
""".split())
_NAME_CUES: list[tuple[tuple[str, ...], bool]] = [  # (phrase, lower-case name allowed)
    (("my", "name", "is"), True), (("my", "name's"), True), (("name", "is"), True), (("name's",), True),
    (("first", "name", "is"), True), (("last", "name", "is"), True), (("surname", "is"), True),
    (("full", "name", "is"), True), (("last", "name"), False), (("first", "name"), False), (("surname",), False),
    (("family", "name"), False), (("call", "me"), False), (("i'm",), False), (("i", "am"), False),
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
_GIVEN_NAMES = Path(__file__).with_name("data") / "given_names.txt"
# words after a given name that make it a business or a place, not a surname ("Grace Hospital")
_NOT_SURNAME = frozenset("""
hotel hotels hospital clinic pharmacy surgery school college university insurance energy water gas electric
electricity motors motor airlines airways air rail trains travel holidays homes furniture telecom mobile
broadband cable fibre fiber health medical dental care council centre center group ltd limited inc plc
associates solicitors estates gym gyms fitness garage parcels couriers logistics foods kitchens bakery cafe
restaurant pizza studio studios salon vets veterinary tv house court close drive way place park square gardens
terrace crescent grove station airport county city town village university's
""".split())
# the other speaker asked for a person's name, so the capitalised words that open the reply are one
_NAME_PROMPT = re.compile(
    r"\b(your|the|his|her|their|a) (full |first |last |family |middle |maiden |sur)?name\b(?! of the (hotel|company|"
    r"shop|store|street|road|product|plan|file|app|pharmacy|practice|drug|medication))|\bsurname\b|"
    r"\bwho (am i|i'm|are we) (speaking|talking) (to|with)\b|\bwho'?s (calling|speaking)\b|\bmaiden name\b|"
    r"\b(spell|spelling) (that|it|your|the)\b|\bwhat'?s your name\b|\bname,? please\b|\band you are\?|"
    r"^\W*(and |ok(ay)?,? |right,? |thanks?,? )?(full )?names?\b(?! of)|\bname and (address|postcode|date)",
    re.IGNORECASE)
_DOB_PROMPT = re.compile(
    r"\b(date (of|a|on) birth|birth ?date|d\.? ?o\.? ?b\b|when were you born|day of birth)", re.IGNORECASE)
_ADDRESS_PROMPT = re.compile(
    r"\b(post ?code|postal code|zip( code)?|(your|the|home|billing|delivery|current|new|full|registered) address|"
    r"first line|house number|door number|where do you live)\b", re.IGNORECASE)
_ACCOUNT_PROMPT = re.compile(
    r"\b(account|policy|member(ship)?|customer|plan|contract|loan|mortgage|agreement) (number|no|id|i d)\b",
    re.IGNORECASE)
_PROMPT_REPLY_WORDS = 8

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
    def redact_words(self, words: Sequence[str], asked: Collection[str] = ()) -> WordRedaction:
        """``asked``: what the other speaker has just asked for ("NAME", "DOB", "ADDRESS"; see ``asked_for``),
        so the opening words of this reply are read as that ("Hughes.", "Third of March, seventy-five.")."""
        return self._redact([words], [{t: [(0, len(words))] for t in asked}])[0]

    def redact_text(self, text: str) -> tuple[str, int]:
        if not isinstance(text, str):
            raise TypeError(f"redact_text: expected str, got {type(text).__name__}")
        r = self.redact_words([" " + w for w in text.split()])
        return r.text, r.count

    def redact_batch(self, batch: Sequence[Sequence[str]]) -> list[WordRedaction]:
        """``redact_words`` on many word lists; spaCy runs batched (~3x faster than one by one)."""
        return self._redact(batch, [{} for _ in batch])

    def redact_segments(self, segments: Sequence[Sequence[str]],
                        asked: Sequence[Collection[str]] | None = None) -> list[WordRedaction]:
        """Redact consecutive word lists of ONE speaker as a single stream; one result per segment.

        Turns end at pauses, and callers pause while reading a card ("4111 1111 ... 1111 1111").
        Redacted one turn at a time, the second half has no cue and too few digits to be caught;
        as one stream it is the same digit run as the first half.  Use this with all of a
        speaker's turns in a call (their words only, in time order).  ``asked[k]`` is what the other
        speaker asked for just before segment ``k`` (``asked_for``: "And the surname?" → "Hughes.").
        """
        checked = [_check_words(seg) for seg in segments]
        if asked is not None and len(asked) != len(checked):
            raise ValueError(f"redact_segments: {len(asked)} 'asked' entries for {len(checked)} segments")
        spans: dict[str, list[tuple[int, int]]] = {}
        pos = 0
        for k, seg in enumerate(checked):
            for typ in (asked[k] if asked is not None and seg else ()):
                spans.setdefault(typ, []).append((pos, pos + len(seg)))
            pos += len(seg)
        whole = self._redact([[w for seg in checked for w in seg]], [spans])[0]
        out, pos = [], 0
        for seg in checked:
            types = whole.word_types[pos : pos + len(seg)]
            pos += len(seg)
            text, count = _render(seg, types)
            out.append(WordRedaction(text, types, count))
        return out

    def _redact(self, batch: Sequence[Sequence[str]],
                asked: Sequence[dict[str, list[tuple[int, int]]]]) -> list[WordRedaction]:
        """``asked[k]``: PII type -> word ranges [start, stop) of item ``k`` that reply to a question for it."""
        checked = [_check_words(words) for words in batch]
        surfaces = [surface_words(words) for words in checked]
        tokens = [tokenise(surf) for surf, _ in surfaces]
        replies = [{typ: sorted({(owner[a], owner[b - 1] + 1) for a, b in ranges if a < b <= len(owner)})
                    for typ, ranges in q.items()} for q, (_, owner) in zip(asked, surfaces, strict=True)]
        labels = [self._detect_non_names(t, r) for t, r in zip(tokens, replies, strict=True)]
        if "NAME" in self.config.types:
            ner = self._spacy_names(tokens)
            for t, lab, spans, r in zip(tokens, labels, ner, replies, strict=True):
                _apply_names(t, lab, _pattern_names(t) + spans + _listed_names(t, r.get("NAME", [])))
        out = []
        for words, (_, owner), lab in zip(checked, surfaces, labels, strict=True):
            types = [x if x in self.config.types else None for x in (lab.types[o] for o in owner)]
            text, count = _render(words, types)
            out.append(WordRedaction(text, types, count))
        return out

    # ------------------------------------------------------------ detection
    @staticmethod
    def _detect_non_names(tokens: list[Token], asked: dict[str, list[tuple[int, int]]] | None = None) -> _Labels:
        labels = _Labels(len(tokens))
        cues = _find_cues(tokens)
        asked = asked or {}
        # a number read in reply to "And the policy number?" is typed as if the cue had been said
        cues += [_Cue(a - 1, a - 1, "ACCOUNT") for a, _ in asked.get("ACCOUNT", [])]
        groups = number_groups(tokens)
        runs = number_runs(tokens, groups)
        _detect_emails(tokens, labels)
        _detect_dob(tokens, labels, cues, asked.get("DOB", []))
        _detect_address(tokens, labels, cues, runs, asked.get("ADDRESS", []))
        _detect_ni_letters(tokens, labels, cues, runs)
        _detect_month_expiry(tokens, labels, cues, groups)
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


def asked_for(text: str) -> frozenset[str]:
    """Which PII an utterance asks the other speaker for: NAME ("Can I take your surname?"), DOB
    ("And your date of birth?"), ADDRESS ("What's the postcode?"), ACCOUNT ("And the policy number?").

    The reply often carries no cue of its own ("Hughes." / "Third of March, seventy-five."), so the
    caller passes this on to ``redact_segments``."""
    return frozenset(typ for typ, rx in (("NAME", _NAME_PROMPT), ("DOB", _DOB_PROMPT), ("ADDRESS", _ADDRESS_PROMPT),
                                         ("ACCOUNT", _ACCOUNT_PROMPT)) if rx.search(text))


def answered_questions(speakers: Sequence[str], texts: Sequence[str]) -> list[frozenset[str]]:
    """For each turn, what the other speaker's turn just before it asked for (``asked_for``), to pass
    to ``redact_segments``; empty after a turn of the same speaker."""
    return [asked_for(texts[i - 1]) if i > 0 and speakers[i - 1] != speakers[i] else frozenset()
            for i in range(len(texts))]


@lru_cache(maxsize=1)
def given_names() -> frozenset[str]:
    """The given-name list (lower case); built by scripts/make_given_names.py, see its docstring."""
    try:
        text = _GIVEN_NAMES.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuntimeError(f"{_GIVEN_NAMES}: cannot read the given-name list the redactor needs ({exc}); "
                           "rebuild it with: .venv/bin/python scripts/make_given_names.py") from exc
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


def _listed_names(tokens: list[Token], replies: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Names spaCy's small model misses: known given names (and the surname after one), the agent's
    own name in "Bank, Martin speaking", and the opening words of a reply to "And your surname?".

    spaCy labels "It is Marcus Reed." an organisation and "the names Marcus Reed" a place, and it
    never sees the question a bare "Hughes." answers.  Only capitalised words count (Whisper writes
    names capitalised), and never the redactor's stop words.  A given name that is also a place
    ("Florence", "Chelsea") is redacted too: spaCy's place labels on transcripts are no better than
    its person labels, and a redacted town costs less than a leaked name.
    """
    known = given_names()
    spans: list[tuple[int, int]] = []
    n = len(tokens)
    for i, t in enumerate(tokens):
        if not _name_candidate(t) or len(t.core) < 2:
            continue
        if t.low in known:
            end = i
            while (end + 1 < n and end - i < 2 and not t.raw.endswith((",", ".", "?", "!", ";", ":"))
                   and not tokens[end].raw.endswith((",", ".", "?", "!", ";", ":"))
                   and _name_candidate(tokens[end + 1]) and tokens[end + 1].low not in _NOT_SURNAME):
                end += 1
            spans.append((i, end))
        # "Kingsmead Bank, Martin speaking" / "Chris here." / "Hi, Jo Bloggs speaking"
        after = i + 1 if i + 1 < n and tokens[i + 1].low in ("speaking", "here") else None
        if after is None and i + 2 < n and tokens[i + 2].low == "speaking" and _name_candidate(tokens[i + 1]):
            after = i + 2
        if after is not None and (i == 0 or tokens[i - 1].raw.endswith((",", ".", "?", "!", ":"))) \
                and (tokens[after].low == "speaking" or after + 1 >= n
                     or tokens[after].raw.endswith((",", ".", "!", "?"))):
            spans.append((i, after - 1))
    for start, stop in replies:
        letters = [j for j in range(start, min(start + _PROMPT_REPLY_WORDS + 6, stop))
                   if len(tokens[j].core) == 1 and tokens[j].core.isupper() and tokens[j].core != "I"]
        if len(letters) >= 3:  # the name spelled out: "[NAME], H O L T."
            spans += [(j, j) for j in letters]
        for j in range(start, min(start + _PROMPT_REPLY_WORDS, stop)):
            t = tokens[j]
            if (not _name_candidate(t) or len(t.core) < 2 or _number_word(t.low, ordinals=True)
                    or t.low.endswith(("'s", "’s"))):
                continue
            # Whisper capitalises every sentence start, so an opening word counts only when it stands
            # alone ("Hughes.", "Greene, with an E") or before another capitalised word ("Marcus Bell")
            opens = j == start or _SENTENCE_END.search(tokens[j - 1].raw) is not None
            alone = t.raw.endswith((",", ".", "?", "!", ";", ":")) or j + 1 >= stop
            if opens and not alone and not _name_candidate(tokens[j + 1]):
                continue
            spans.append((j, j))
    return spans


def _apply_names(tokens: list[Token], labels: _Labels, found: list[tuple[int, int]]) -> None:
    names: set[str] = set()
    for s, e in found:
        for i in range(s, e + 1):
            t = tokens[i]
            letter = len(t.core) == 1 and t.core.isupper() and t.core != "I"  # spelled out: "O K A F O R"
            if labels.types[i] is None and (letter or (_NAME_WORD.match(t.core) and t.low not in _NAME_STOP
                                                       and not _CONTRACTION.search(t.low))):
                labels.types[i] = "NAME"
                if not letter:
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


def _detect_month_expiry(tokens: list[Token], labels: _Labels, cues: list[_Cue], groups: list[Group]) -> None:
    """'expires May 2027' / 'valid until June twenty seven': the month name is part of the expiry."""
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


def _date_kind(t: Token) -> str | None:
    """What a word can be inside a spoken or written date: month, day, year, date, num, conn or None."""
    core, low = t.core, t.low
    if low in _MONTHS and core[:1].isupper():
        return "month"
    if _NUMERIC_DATE.match(core):
        return "date"
    if core.isdigit() and core.isascii():
        v = int(core)
        if len(core) == 4 and 1900 <= v <= 2030:
            return "year"
        return "day" if len(core) <= 2 else None
    if _ORDINAL_DIGITS.match(low):
        return "day"
    parts = low.split("-")
    if parts[-1] in _ORDINAL_WORDS and all(p in _NUMBER_WORDS for p in parts[:-1]):
        return "day"
    if (all(p in _NUMBER_WORDS for p in parts) and low != "oh") or (low == "oh" and t.index > 0):
        return "num"
    if low in ("of", "the", "and"):
        return "conn"
    return None


def _full_birth_date(tokens: list[Token], kinds: list[str | None], month: int) -> bool:
    """A day within two words of the month (either side) and a birth year right after it."""
    near = range(max(month - 3, 0), min(month + 3, len(tokens)))
    if not any(kinds[j] == "day" or (kinds[j] == "num" and j < month) for j in near if j != month):
        return False
    after = [t.core for t in tokens[month + 1 : month + 5]]
    for j, core in enumerate(after):
        if core.isdigit() and len(core) == 4:
            return 1900 <= int(core) <= 2010
        if tokens[month + 1 + j].low == "nineteen" or (tokens[month + 1 + j].low == "two" and j + 1 < len(after)
                                                       and tokens[month + 2 + j].low == "thousand"):
            return True
    return False


def _detect_dob(tokens: list[Token], labels: _Labels, cues: list[_Cue], replies: list[tuple[int, int]]) -> None:
    """A date after a date-of-birth cue or in the reply to "And your date of birth?" is DOB, and so is
    any full date (day, month and a year from 1900 to 2010: "Mine's the ninth of October, 1975").

    Only there: "the engineer comes on the third of March" is not personal data.  The date ends at the
    first word that cannot be part of one, and is left alone when digits follow it (a "2019" could be
    one group of a card number read straight after, which the card rules must see whole).
    """
    n = len(tokens)
    kinds = [_date_kind(t) for t in tokens]
    windows = [(c.end + 1, min(c.end + 1 + _DOB_WINDOW, n)) for c in cues if c.category == "DOB"]
    windows += [(a, min(a + 2 * _DOB_WINDOW, b)) for a, b in replies]
    windows += [(next((j for j in range(max(i - 3, 0), i) if kinds[j] in ("day", "num")), i), i + 1)
                for i, k in enumerate(kinds) if k == "month" and _full_birth_date(tokens, kinds, i)]
    for start, stop in windows:
        first = start
        while first < stop:  # the first stretch in the window that reads as a date ("14 Mill Lane, and the 5th…")
            if kinds[first] in (None, "conn", "year"):
                first += 1
                continue
            end, j = first, first + 1
            while j < n and kinds[j] is not None and _SENTENCE_END.search(tokens[j - 1].raw) is None:
                if kinds[j] == "conn":
                    if j + 1 < n and kinds[j + 1] not in (None, "conn"):
                        j += 1
                        continue
                    break
                end = j
                j += 1
            # a month, a written date or a year makes it a date; "Five five zero one." is the card's last four
            if {"month", "date", "year"} & set(kinds[first : end + 1]) and not (
                    end + 1 < n and tokens[end + 1].core.isdigit()):
                labels.claim(first, end, "DOB")
            first = end + 1


def _letterish(t: Token) -> bool:
    raw = t.core.replace("-", "")
    return bool(raw) and raw.isascii() and raw.isalnum() and raw.upper() == raw and any(c.isalpha() for c in raw) \
        and (len(raw) == 1 or any(c.isdigit() for c in raw) or bool(_INWARD.match(raw)))


def _number_word(low: str, ordinals: bool = False) -> bool:
    """"fourteen", "twenty-two" (and with ``ordinals`` "twelfth", "twenty-first")."""
    words = _NUMBER_WORDS | _ORDINAL_WORDS if ordinals else _NUMBER_WORDS
    return all(p in words for p in low.split("-"))


def _single_digit(t: Token) -> bool:
    return (len(t.core) == 1 and t.core.isdigit()) or (t.low in UNITS and t.low != "o")


def _digitish(t: Token) -> bool:
    return (t.core.isdigit() and len(t.core) <= 2) or _number_word(t.low)


def _detect_address(tokens: list[Token], labels: _Labels, cues: list[_Cue], runs: list[Run],
                    replies: list[tuple[int, int]]) -> None:
    """Postcodes, ZIP codes and street addresses ("14 Mill Lane", "Fourteen Mill Lane, D L one, three H S").

    A written UK postcode is unmistakable anywhere; a house number followed by capitalised words and a
    street word ("Lane", "Avenue") is an address line anywhere; letters and digits spelled out, and a
    five-digit ZIP, only after an address cue or in the reply to "And the postcode?".
    """
    n = len(tokens)
    lines: list[int] = []  # ends of street lines: a spelled postcode often follows ("…Lane, Leeds, L S eleven…")
    for i, t in enumerate(tokens):
        core = t.core
        if core.upper() == core and (_POSTCODE.match(core.replace(" ", ""))):
            labels.claim(i, i, "ADDRESS")
        elif i + 1 < n and core.upper() == core and _OUTWARD.match(core) and _INWARD.match(tokens[i + 1].core):
            labels.claim(i, i + 1, "ADDRESS")
        # "14 Mill Lane", "two eighteen Linden Avenue", "Flat 2, 40 Marsh Lane"
        if t.low in _STREET_WORDS and core[:1].isupper():
            j = i - 1
            while j >= 0 and i - j <= 3 and _NAME_WORD.match(tokens[j].core) and tokens[j].core[:1].isupper() \
                    and not _number_word(tokens[j].low):
                j -= 1
            if j == i - 1:
                continue
            k = j
            while k >= 0 and j - k < 4 and (tokens[k].core.isdigit() or re.match(r"^\d{1,4}[a-z]$", tokens[k].low)
                                            or _number_word(tokens[k].low)
                                            or (tokens[k].low == "and" and k < j)):
                k -= 1
            if k == j:
                continue
            first = k + 1 if k < 0 or tokens[k].low not in _UNIT_WORDS_ADDR else k
            labels.claim(first, i, "ADDRESS")
            lines.append(i)
    place = [c for c in cues if c.category in ("ADDRESS", "ZIP")]
    windows = [(c.end + 1, min(c.end + 1 + _ADDRESS_WINDOW, n), c.category == "ZIP") for c in place]
    windows += [(a, min(a + _ADDRESS_WINDOW, b), True) for a, b in replies]
    windows += [(max(c.end - _ADDRESS_WINDOW // 2, 0), c.end, False) for c in place]  # "…, that's the postcode"
    windows += [(e + 1, min(e + 1 + _ADDRESS_WINDOW // 2, n), False) for e in lines]
    for start, stop, zip_ok in windows:
        window = range(start, stop)
        # letters and digits spelled out: "D L one, three H S", "S W one A, two A A"
        j = window.start
        while j < window.stop:
            if not (_letterish(tokens[j]) or _digitish(tokens[j])):
                j += 1
                continue
            k = j
            while k + 1 < n and (_letterish(tokens[k + 1]) or _digitish(tokens[k + 1])) \
                    and _SENTENCE_END.search(tokens[k].raw) is None \
                    and not (tokens[k + 1].core == "I" and k + 2 < n and tokens[k + 2].core.islower()):  # "…N, I think"
                k += 1
            span = tokens[j : k + 1]
            letters = sum(sum(c.isalpha() for c in x.core) for x in span if _letterish(x))
            digits = sum(1 for x in span if _digitish(x)) + sum(sum(c.isdigit() for c in x.core)
                                                                for x in span if _letterish(x))
            if letters >= 2 and digits >= 1 and 3 <= letters + digits <= 8:
                labels.claim(j, k, "ADDRESS")
            j = k + 1
        # a ZIP read digit by digit ("Nine seven two one four."), whatever the number grouper joined it to
        j = next((i for i in window if _single_digit(tokens[i])), None)
        if zip_ok and j is not None:
            k = j
            while k + 1 < stop and _single_digit(tokens[k + 1]) and _SENTENCE_END.search(tokens[k].raw) is None:
                k += 1
            if k - j + 1 in (5, 9):
                labels.claim(j, k, "ADDRESS")
        for run in runs if zip_ok else ():
            groups = [g for g in run.groups if start <= g.start < stop]
            if not groups:
                continue
            digits, end = "", groups[0].start
            for g in groups:  # within one sentence: a run can join the end of one turn to the next one's start
                digits, end = digits + g.digits, g.end
                if _SENTENCE_END.search(tokens[g.end].raw):
                    break
            if len(digits) in (5, 9):
                labels.claim(groups[0].start, end, "ADDRESS")


def _detect_ni_letters(tokens: list[Token], labels: _Labels, cues: list[_Cue], runs: list[Run]) -> None:
    """UK National Insurance numbers: two prefix letters, six digits, one suffix letter."""
    for t in tokens:
        compact = re.sub(r"[\-.]", "", t.core)  # "QQ123456C" or spelled "Q-Q-1-2-3-4-5-6-C"
        if _NI_COMPACT.match(compact) and any(ch.isdigit() for ch in compact):
            labels.claim(t.index, t.index, "NATIONAL_ID")
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
