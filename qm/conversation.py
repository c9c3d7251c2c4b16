"""Rebuild the dialogue from word timestamps: turns, then sentence-level utterances.

Whisper segments are not turns: one segment can span 15 s and several turns of the other
speaker, so ordering by segment start scrambles a dialogue.  Words are therefore interleaved
by their own times, turns split at speaker changes and long pauses, and each turn is split
into sentences with spaCy.  PII is redacted on the turn's words *before* sentence splitting
so that a card number read across a sentence boundary is still one span.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from qm.nlp.redaction import answered_questions
from qm.spacy_pipelines import PARSER_LOCK, parser
from qm.types import Speaker, Turn, Utterance, Word


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """How words become turns; defaults suit telephone dialogue."""

    max_pause_s: float = 1.5  # a same-speaker pause longer than this starts a new turn
    backchannel_max_s: float = 1.0  # a short other-speaker word inside a turn ("yeah") does not split it
    handover_s: float = 0.3  # a shorter pause is a breath inside overlapping speech, never a handover


class WordRedactor(Protocol):
    def redact_segments(self, segments: Sequence[Sequence[str]],
                        asked: Sequence[Collection[str]] | None = None) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class Token:
    """A display token: one word, or a run of redacted words collapsed into one tag."""

    text: str
    start: float
    end: float
    redacted: str | None = None


def interleave(words: Sequence[Word]) -> list[Word]:
    """All words of both speakers in time order (by start, then end, then channel for ties)."""
    return sorted(words, key=lambda w: (w.start, w.end, w.channel))


def build_turns(words: Sequence[Word], options: TurnOptions | None = None) -> list[Turn]:
    """Group words into turns of one speaker each, in order of their start.

    Each speaker's words are grouped by that speaker's own pauses, so talking over the other side
    does not shatter either sentence: a word-by-word walk through both channels alternates speakers
    at every word of an overlap and turns "Did you drop it after you got it back?" into nine
    one-word turns, which no classifier can read. A speaker's run is still cut at their first pause
    (at least ``handover_s``) after the other side finished saying something, over them or in the
    pause: the words after it answer what was said, so they start a new turn. A backchannel
    ("mm-hm": at most two words within ``backchannel_max_s``, begun before the pause was under way)
    does not cut a sentence; it is placed after it.
    """
    o = options or TurnOptions()
    ordered = interleave(words)
    by_speaker: dict[str, list[Word]] = {}
    for w in ordered:
        by_speaker.setdefault(w.speaker, []).append(w)
    turns: list[Turn] = []
    for speaker, own in by_speaker.items():
        other = _OtherSide([w for w in ordered if w.speaker != speaker], o)
        current = [own[0]]
        for prev, w in pairwise(own):
            gap = w.start - prev.end
            if gap > o.max_pause_s or (gap >= o.handover_s and other.finished_in(current[0].start, prev.end, w.start)):
                turns.append(Turn(speaker=speaker, words=current))
                current = [w]
            else:
                current.append(w)
        turns.append(Turn(speaker=speaker, words=current))
    turns.sort(key=lambda t: (t.start, t.end, t.words[0].channel))
    return turns


_EDGE_S = 0.05  # word times are rounded; a word that ends at the pause's edge ends inside it
_LATE_S = 0.3  # a short reply begun this long into the pause answers; one begun earlier is a backchannel


class _OtherSide:
    """The other speakers' words, indexed for "did they finish saying something in this pause?"."""

    def __init__(self, words: list[Word], o: TurnOptions) -> None:
        self.words, self.o = words, o
        order = sorted(range(len(words)), key=lambda i: words[i].end)
        self.ends = [words[i].end for i in order]
        self.by_end = order
        self.run_first: list[int] = []  # index of the first word of each word's run (own pauses)
        for i, w in enumerate(words):
            joined = i > 0 and w.start - words[i - 1].end <= o.max_pause_s
            self.run_first.append(self.run_first[i - 1] if joined else i)

    def finished_in(self, since: float, gap_start: float, gap_end: float) -> bool:
        """Did they finish more than a backchannel after ``since`` and before this pause ended?"""
        lo = bisect_left(self.ends, since)
        hi = bisect_right(self.ends, gap_end + _EDGE_S)
        if lo >= hi:
            return False
        last = max(self.by_end[lo:hi])
        if last + 1 < len(self.words) and self.run_first[last + 1] == self.run_first[last]:
            return False  # they go on talking (same run): an overlap, not a handover
        run = self.words[self.run_first[last]:last + 1]
        backchannel = (len(run) <= 2 and run[-1].end - run[0].start <= self.o.backchannel_max_s
                       and run[0].start < gap_start + _LATE_S)
        return not backchannel


def tokens_for_turn(turn: Turn, types: Sequence[str | None] | None) -> tuple[list[Token], int]:
    """Words of a turn as display tokens, with each run of same-type PII collapsed into a ``[TYPE]`` tag."""
    words = turn.words
    if types is None:
        return [Token(w.text, w.start, w.end) for w in words], 0
    tokens: list[Token] = []
    spans = 0
    i = 0
    while i < len(words):
        kind = types[i]
        if kind is None:
            tokens.append(Token(words[i].text, words[i].start, words[i].end))
            i += 1
            continue
        j = i
        while j + 1 < len(words) and types[j + 1] == kind:
            j += 1
        trail = re.search(r"[.,!?;:]+$", words[j].text.strip())
        tag = f" [{kind}]" + (trail.group(0) if trail else "")
        tokens.append(Token(tag, words[i].start, words[j].end, redacted=kind))
        spans += 1
        i = j + 1
    return tokens, spans


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences; spaCy's parser, with a guard for tags like [CARD]."""
    if not text.strip():
        return []
    with PARSER_LOCK:
        doc = parser()(text)
    return [(s.start_char, s.end_char) for s in doc.sents if s.text.strip()]


@dataclass(slots=True)
class TokenTurn:
    """A turn after redaction: what the store keeps, and all that re-scoring needs."""

    speaker: Speaker
    tokens: list[Token]

    def to_json(self) -> dict:
        return {
            "speaker": self.speaker,
            "tokens": [[t.text, t.start, t.end, t.redacted] for t in self.tokens],
        }

    @classmethod
    def from_json(cls, d: dict) -> TokenTurn:
        return cls(d["speaker"], [Token(t[0], float(t[1]), float(t[2]), t[3]) for t in d["tokens"]])

    def as_words(self) -> list[Word]:
        return [Word(t.start, t.end, t.text, 1.0, self.speaker) for t in self.tokens]


def regroup_turns(turns: Sequence[TokenTurn], options: TurnOptions | None = None) -> list[TokenTurn]:
    """Stored (redacted) turns rebuilt into turns by the current ``build_turns``.

    The store keeps each call's tokens with their times, so a re-score or a transcript-cache hit can
    apply today's turn building to a call transcribed before it, instead of keeping the turns it was
    stored with; a score from the store then matches a fresh transcription of the same words. A
    redacted span is one token and stays whole; rebuilding the turns of rebuilt turns changes nothing.
    """
    channel = {"agent": 0, "customer": 1}
    token_of: dict[int, Token] = {}
    words: list[Word] = []
    for turn in turns:
        for tok in turn.tokens:
            w = Word(tok.start, tok.end, tok.text, 1.0, turn.speaker, channel.get(turn.speaker, 2))
            token_of[id(w)] = tok
            words.append(w)
    if not words:
        return []
    return [TokenTurn(t.speaker, [token_of[id(w)] for w in t.words]) for t in build_turns(words, options)]


def redaction_count(turns: Sequence[TokenTurn]) -> int:
    """Redacted spans in a call: each span was collapsed into one tagged token."""
    return sum(1 for t in turns for tok in t.tokens if tok.redacted)


def redact_turns(turns: Sequence[Turn], redactor: WordRedactor | None) -> tuple[list[TokenTurn], int]:
    """Redact every turn; returns the redacted turns and the number of redacted spans.

    Each speaker's turns are redacted as one stream: callers pause while reading a card, so the
    second half of the number arrives in a later turn with no cue word of its own.  A turn that
    answers the other speaker's question for a name, a date of birth or an address ("And the
    surname?" → "Hughes.") says so, because the answer itself often has no cue word.
    """
    types: dict[int, Sequence[str | None]] = {}
    if redactor is not None:
        asked = answered_questions([t.speaker for t in turns], ["".join(w.text for w in t.words) for t in turns])
        for speaker in {t.speaker for t in turns}:
            idx = [i for i, t in enumerate(turns) if t.speaker == speaker]
            results = redactor.redact_segments([[w.text for w in turns[i].words] for i in idx],
                                               [asked[i] for i in idx])
            for i, r in zip(idx, results, strict=True):
                types[i] = r.word_types  # type: ignore[attr-defined]
    out: list[TokenTurn] = []
    total = 0
    for i, turn in enumerate(turns):
        tokens, n = tokens_for_turn(turn, types.get(i))
        total += n
        out.append(TokenTurn(turn.speaker, tokens))
    return out, total


def utterances_from_turns(
    turns: Sequence[TokenTurn],
    splitter: Callable[[str], list[tuple[int, int]]] = split_sentences,
) -> list[Utterance]:
    """Split each (redacted) turn into sentence-level utterances timed by their tokens."""
    utterances: list[Utterance] = []
    for t_index, turn in enumerate(turns):
        tokens = turn.tokens
        text, offsets = _join(tokens)
        for start_char, end_char in splitter(text):
            members = [k for k, (a, b) in enumerate(offsets) if a < end_char and b > start_char]
            if not members:
                continue
            utterances.append(
                Utterance(
                    index=len(utterances), speaker=turn.speaker, start=tokens[members[0]].start,
                    end=tokens[members[-1]].end, text=text[start_char:end_char].strip(), turn=t_index,
                    word_count=len(members),
                )
            )
    return utterances


def _join(tokens: Sequence[Token]) -> tuple[str, list[tuple[int, int]]]:
    """Concatenate token texts (Whisper keeps the leading space) and record each token's span."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for i, tok in enumerate(tokens):
        piece = tok.text.lstrip() if i == 0 else tok.text
        if i > 0 and not piece.startswith(" "):
            piece = piece if piece[:1] in "'-" else " " + piece
        lead = len(piece) - len(piece.lstrip())
        parts.append(piece)
        offsets.append((pos + lead, pos + len(piece)))
        pos += len(piece)
    return "".join(parts), offsets


def speaker_of_channel(channel: int, agent: int | None, customer: int | None) -> Speaker:
    if channel == agent:
        return "agent"
    if channel == customer:
        return "customer"
    return "unknown"
