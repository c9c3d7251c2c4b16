"""Rebuild the dialogue from word timestamps: turns, then sentence-level utterances.

Whisper segments are not turns: one segment can span 15 s and several turns of the other
speaker, so ordering by segment start scrambles a dialogue.  Words are therefore interleaved
by their own times, turns split at speaker changes and long pauses, and each turn is split
into sentences with spaCy.  PII is redacted on the turn's words *before* sentence splitting
so that a card number read across a sentence boundary is still one span.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from qm.spacy_pipelines import PARSER_LOCK, parser
from qm.types import Speaker, Turn, Utterance, Word


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """How words become turns; defaults suit telephone dialogue."""

    max_pause_s: float = 1.5  # a same-speaker pause longer than this starts a new turn
    backchannel_max_s: float = 1.0  # a short other-speaker word inside a turn ("yeah") does not split it


class WordRedactor(Protocol):
    def redact_segments(self, segments: Sequence[Sequence[str]]) -> Sequence[object]: ...


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
    """Group time-ordered words into turns of one speaker each."""
    o = options or TurnOptions()
    ordered = interleave(words)
    turns: list[Turn] = []
    for w in ordered:
        cur = turns[-1] if turns else None
        if cur and cur.speaker == w.speaker and w.start - cur.end <= o.max_pause_s:
            cur.words.append(w)
        else:
            turns.append(Turn(speaker=w.speaker, words=[w]))
    return _merge_backchannels(turns, o)


def _merge_backchannels(turns: list[Turn], o: TurnOptions) -> list[Turn]:
    """Re-join a turn that the other speaker only interrupted with an overlapping backchannel.

    Without this, "so what I'd like [mm-hm] to do is…" becomes three turns and the agent's
    sentence is cut in two.
    """
    out: list[Turn] = []
    pending: list[Turn] = []  # backchannels waiting until the turn they interrupted is complete
    merge_next = False
    for i, t in enumerate(turns):
        if merge_next:
            out[-1].words.extend(t.words)
            merge_next = False
            continue
        if (
            out
            and i + 1 < len(turns)
            and t.speaker != out[-1].speaker
            and turns[i + 1].speaker == out[-1].speaker
            and len(t.words) <= 2
            and t.end - t.start <= o.backchannel_max_s
            and t.start < out[-1].end + 0.3  # overlaps or touches the turn it sits in
        ):
            pending.append(t)
            merge_next = True
            continue
        out.extend(pending)
        pending = []
        out.append(t)
    out.extend(pending)
    return out


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


def redaction_count(turns: Sequence[TokenTurn]) -> int:
    """Redacted spans in a call: each span was collapsed into one tagged token."""
    return sum(1 for t in turns for tok in t.tokens if tok.redacted)


def redact_turns(turns: Sequence[Turn], redactor: WordRedactor | None) -> tuple[list[TokenTurn], int]:
    """Redact every turn; returns the redacted turns and the number of redacted spans.

    Each speaker's turns are redacted as one stream: callers pause while reading a card, so the
    second half of the number arrives in a later turn with no cue word of its own.
    """
    types: dict[int, Sequence[str | None]] = {}
    if redactor is not None:
        for speaker in {t.speaker for t in turns}:
            idx = [i for i, t in enumerate(turns) if t.speaker == speaker]
            results = redactor.redact_segments([[w.text for w in turns[i].words] for i in idx])
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
