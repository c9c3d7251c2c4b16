"""Conversation metrics computed from word timestamps of both speakers.

QA teams judge pacing (talk ratio, dead air, talking over the customer) from
timing alone, so these figures use only ``Word`` start/end times and never the
text.  Definitions (also in docs/rubrics.md):

* **speech intervals** — per speaker, word intervals merged when the gap between
  them is below ``merge_gap_s`` (0.3 s): the silences between words of one
  sentence are not pauses anybody would notice.
* **agent talk ratio** — agent speech time / (agent + customer speech time);
  ``customer_talk_ratio`` is the complement.  Words of speaker ``unknown`` count
  as speech for silence but belong to neither side.
* **sound** — stretches where the agent side (or the mono mix) carries sustained
  sound that is not transcribed speech: hold music, recorded announcements
  (``qm.sound``, read from the audio when it is transcribed and stored with the
  transcript).  Stretches shorter than ``MIN_SOUND_S`` (1.5 s) once speech is
  taken out are ignored: they are the tails of words whose timestamps end early.
  Without audio (a transcript alone) there is none.
* **silence ratio** — time in which nobody speaks and the line carries no other
  sound / call duration (leading and trailing silence included: ring time and a
  silent hold at the ends are still dead air for the customer).
* **longest silence** — the longest stretch of dead air *between* two stretches
  of speech: a gap with hold music is a hold, not dead air, so only its silent
  parts count.  The silence before the first and after the last word is left out
  because it is recording set-up, not conversation.
* **hold seconds / longest hold** — total and longest stretch of non-speech sound
  between speech, so a rubric can still limit how long customers wait on music.
* **overtalk** — seconds in which agent and customer speak at once.
* **interruptions** — the agent starts a speech interval while a customer
  interval is in progress (strictly after it began) and they then overlap for
  at least ``interrupt_min_overlap_s`` (0.5 s).  Short back-channels ("mm-hm")
  and latching onto the end of the customer's sentence stay below that.
* **agent words per minute** — agent words / agent speech time in minutes
  (speaking rate, not call-length-diluted).
* **customer sentiment start/end** — mean signed sentiment score over the first
  / last ``sentiment_window`` (3) labelled customer utterances of at least
  ``sentiment_min_words`` (3) words, mapped to a label with a ±``sentiment_band``
  (0.2) neutral band; ``None`` without customer speech.  Shorter replies are
  left out because they carry the formalities, not the mood: a call ends with
  "No." "Okay." "Bye.", which the sentiment head reads as neutral, and a curt
  "Brilliant." after bad news is sarcasm it reads as positive.  A customer who
  never says three words in a row is judged on all their utterances.  With fewer
  than 6 such utterances the window shrinks to half of them (at least 1) so start
  and end do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from qm.types import Metrics, SentimentLabel, Speaker, Utterance, Word

MERGE_GAP_S = 0.3
INTERRUPT_MIN_OVERLAP_S = 0.5
SENTIMENT_WINDOW = 3
SENTIMENT_MIN_WORDS = 3
SENTIMENT_BAND = 0.2
MIN_SOUND_S = 1.5

Interval = tuple[float, float]


def speech_intervals(words: Iterable[Word], speaker: Speaker | None = None,
                     merge_gap_s: float = MERGE_GAP_S) -> list[Interval]:
    """Sorted, disjoint speech intervals of ``speaker`` (all speakers if None).

    Words with non-finite or reversed times are skipped rather than trusted:
    one bad timestamp must not turn a whole call into speech.
    """
    spans: list[Interval] = []
    for w in words:
        if speaker is not None and w.speaker != speaker:
            continue
        s, e = float(w.start), float(w.end)
        if not (math.isfinite(s) and math.isfinite(e)) or e < s or s < 0:
            continue
        spans.append((s, e))
    return merge_intervals(spans, merge_gap_s)


def merge_intervals(spans: Iterable[Interval], gap: float = 0.0) -> list[Interval]:
    """Union of intervals, also joining ones separated by less than ``gap`` seconds."""
    merged: list[list[float]] = []
    for s, e in sorted(spans):
        if merged and s - merged[-1][1] < gap:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def total_length(intervals: Iterable[Interval]) -> float:
    return float(sum((e - s for s, e in intervals), 0.0))


def intersection(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Pairwise overlap of two sorted disjoint interval lists (two-pointer sweep)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s = max(a[i][0], b[j][0])
        e = min(a[i][1], b[j][1])
        if e > s:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def silences(speech: Sequence[Interval]) -> list[Interval]:
    """Gaps between consecutive stretches of speech (not before the first or after the last)."""
    return [(speech[k][1], speech[k + 1][0]) for k in range(len(speech) - 1)
            if speech[k + 1][0] > speech[k][1]]


def subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Parts of sorted disjoint intervals ``a`` not covered by sorted disjoint intervals ``b``."""
    out: list[Interval] = []
    j = 0
    for s, e in a:
        while j < len(b) and b[j][1] <= s:
            j += 1
        k, cur = j, s
        while k < len(b) and b[k][0] < e:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < e:
            out.append((cur, e))
    return out


def interruption_times(agent: Sequence[Interval], customer: Sequence[Interval],
                       min_overlap_s: float = INTERRUPT_MIN_OVERLAP_S) -> list[float]:
    """Start times of agent speech that cut into an ongoing customer interval (see module doc)."""
    times: list[float] = []
    for a_start, a_end in agent:
        for c_start, c_end in customer:
            if c_start >= a_start:
                break
            if c_start < a_start < c_end and min(a_end, c_end) - a_start >= min_overlap_s:
                times.append(a_start)
                break
    return times


def _sentiment_label(mean: float, band: float) -> SentimentLabel:
    if mean >= band:
        return "positive"
    if mean <= -band:
        return "negative"
    return "neutral"


def substantive(utterances: Sequence[Utterance], min_words: int = SENTIMENT_MIN_WORDS) -> list[Utterance]:
    """The utterances of at least ``min_words`` words, or all of them when none is that long.

    What a customer's mood is read from: one- and two-word replies carry the formalities.
    """
    return [u for u in utterances if u.word_count >= min_words] or list(utterances)


def customer_sentiment_mean(utterances: Sequence[Utterance], at: str, n: int = SENTIMENT_WINDOW,
                            min_words: int = SENTIMENT_MIN_WORDS) -> tuple[float | None, list[int]]:
    """Mean signed sentiment and utterance indexes of the customer's first (``at="start"``) or last n.

    Shared with the rubric so a criterion's evidence is exactly the utterances the metric used.
    """
    labelled = [u for u in utterances if u.speaker == "customer" and u.labels is not None]
    if not labelled or n <= 0:
        return None, []
    labelled = substantive(labelled, min_words)
    # Short calls: shrink the window so start and end do not share utterances (and hide a change).
    k = max(1, min(n, len(labelled) // 2))
    window = labelled[:k] if at == "start" else labelled[-k:]
    mean = sum(u.labels.sentiment.score for u in window if u.labels) / len(window)
    return mean, [u.index for u in window]


def customer_sentiment_window(utterances: Sequence[Utterance], at: str, n: int = SENTIMENT_WINDOW,
                              band: float = SENTIMENT_BAND,
                              min_words: int = SENTIMENT_MIN_WORDS) -> tuple[SentimentLabel | None, list[int]]:
    """Label (±``band`` neutral zone) and utterance indexes of the customer's first or last n utterances."""
    mean, idx = customer_sentiment_mean(utterances, at, n, min_words)
    return (None if mean is None else _sentiment_label(mean, band)), idx


@dataclass(frozen=True, slots=True)
class Timeline:
    """Merged speech intervals of one call; the metrics and the rubric's evidence both read it."""

    agent: list[Interval]
    customer: list[Interval]
    everyone: list[Interval]
    sound: list[Interval] = field(default_factory=list)  # non-speech sound (hold music), not overlapping speech

    @classmethod
    def from_words(cls, words: Sequence[Word], merge_gap_s: float = MERGE_GAP_S,
                   sound: Sequence[Interval] = ()) -> Timeline:
        everyone = speech_intervals(words, None, merge_gap_s)
        clean = merge_intervals((float(s), float(e)) for s, e in sound
                                if math.isfinite(s) and math.isfinite(e) and e > s >= 0)
        return cls(
            agent=speech_intervals(words, "agent", merge_gap_s),
            customer=speech_intervals(words, "customer", merge_gap_s),
            everyone=everyone,
            # what is left of a sound run once speech is taken out; short leftovers are the tails of
            # words whose timestamps end early, not a hold
            sound=[p for p in subtract(clean, everyone) if p[1] - p[0] >= MIN_SOUND_S],
        )

    def dead_air(self) -> list[Interval]:
        """Silent stretches between speech: the gaps minus any sound on the line."""
        return subtract(silences(self.everyone), self.sound)

    def holds(self) -> list[Interval]:
        """Sound (music, announcements) inside the gaps between speech."""
        return intersection(silences(self.everyone), self.sound)

    def longest_silence(self) -> Interval | None:
        gaps = self.dead_air()
        if not gaps:
            return None
        return max(gaps, key=lambda g: (g[1] - g[0], -g[0]))

    def overtalk(self) -> list[Interval]:
        return intersection(self.agent, self.customer)

    def interruptions(self, min_overlap_s: float = INTERRUPT_MIN_OVERLAP_S) -> list[float]:
        return interruption_times(self.agent, self.customer, min_overlap_s)


def compute_metrics(words: Sequence[Word], utterances: Sequence[Utterance], duration_s: float, *,
                    sound: Sequence[Interval] = (),
                    merge_gap_s: float = MERGE_GAP_S,
                    interrupt_min_overlap_s: float = INTERRUPT_MIN_OVERLAP_S,
                    sentiment_window: int = SENTIMENT_WINDOW,
                    sentiment_band: float = SENTIMENT_BAND,
                    sentiment_min_words: int = SENTIMENT_MIN_WORDS) -> Metrics:
    """Call-level timing and sentiment metrics (definitions in the module docstring).

    Never raises on empty or odd input: no words gives zeros, no customer speech
    gives ``None`` sentiments.  A duration shorter than the last word (a
    truncated header) is stretched to cover the speech so ratios stay in [0, 1].
    """
    tl = Timeline.from_words(words, merge_gap_s, sound)
    last_end = tl.everyone[-1][1] if tl.everyone else 0.0
    duration = duration_s if math.isfinite(duration_s) and duration_s > 0 else 0.0
    duration = max(duration, last_end)

    agent_t = total_length(tl.agent)
    customer_t = total_length(tl.customer)
    talk = agent_t + customer_t
    audible_t = total_length(tl.everyone) + total_length(tl.sound)
    silence_ratio = max(0.0, min(1.0, (duration - audible_t) / duration)) if duration > 0 else 0.0
    holds = tl.holds()
    gap = tl.longest_silence()
    agent_words = sum(1 for w in words if w.speaker == "agent")
    start, _ = customer_sentiment_window(utterances, "start", sentiment_window, sentiment_band, sentiment_min_words)
    end, _ = customer_sentiment_window(utterances, "end", sentiment_window, sentiment_band, sentiment_min_words)
    return Metrics(
        agent_talk_ratio=agent_t / talk if talk > 0 else 0.0,
        silence_ratio=silence_ratio,
        longest_silence_s=(gap[1] - gap[0]) if gap else 0.0,
        overtalk_s=total_length(tl.overtalk()),
        agent_words_per_minute=agent_words / (agent_t / 60.0) if agent_t > 0 else 0.0,
        customer_sentiment_start=start,
        customer_sentiment_end=end,
        interruptions=len(tl.interruptions(interrupt_min_overlap_s)),
        customer_talk_ratio=customer_t / talk if talk > 0 else 0.0,
        hold_s=total_length(holds),
        longest_hold_s=max((e - s for s, e in holds), default=0.0),
    )
