"""Conversation metrics on hand-built word timelines whose figures are known by construction."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qm.metrics import compute_metrics, interruption_times, merge_intervals, speech_intervals
from qm.types import Empathy, Sentiment, Utterance, UtteranceLabels, Word


def words(speaker: str, start: float, end: float, n: int) -> list[Word]:
    """n equal, back-to-back words filling [start, end]."""
    step = (end - start) / n
    return [Word(start + i * step, start + (i + 1) * step, f" w{i}", 0.9, speaker) for i in range(n)]


def cust_utt(index: int, score: float, start: float = 0.0, n_words: int = 1) -> Utterance:
    label = "positive" if score > 0.3 else "negative" if score < -0.3 else "neutral"
    labels = UtteranceLabels(Sentiment(label, score), None, Empathy(False, 0.1), None)
    return Utterance(index, "customer", start, start + 1, " ".join(["text"] * n_words), index, n_words, labels)


def test_alternating_call_has_known_ratios() -> None:
    # agent 0-4, customer 5-7, agent 10-12, call 15 s: speech 8 s, gaps 1 s and 3 s, trailing 3 s.
    w = words("agent", 0, 4, 4) + words("customer", 5, 7, 3) + words("agent", 10, 12, 2)
    m = compute_metrics(w, [], 15.0)
    assert m.agent_talk_ratio == pytest.approx(6 / 8)
    assert m.customer_talk_ratio == pytest.approx(2 / 8)
    assert m.silence_ratio == pytest.approx(7 / 15)
    assert m.longest_silence_s == pytest.approx(3.0)  # 7 -> 10; the trailing 12 -> 15 is not dead air
    assert m.overtalk_s == 0.0
    assert m.interruptions == 0
    assert m.agent_words_per_minute == pytest.approx(6 / (6 / 60))


def test_small_gaps_merge_but_pauses_do_not() -> None:
    w = [Word(0.0, 1.0, " a", 1, "agent"), Word(1.2, 2.0, " b", 1, "agent"), Word(2.5, 3.0, " c", 1, "agent")]
    assert speech_intervals(w, "agent") == [(0.0, 2.0), (2.5, 3.0)]
    m = compute_metrics(w, [], 3.0)
    assert m.silence_ratio == pytest.approx(0.5 / 3.0)
    assert m.longest_silence_s == pytest.approx(0.5)


def test_interruption_backchannel_and_latching() -> None:
    customer = words("customer", 0, 6, 12)
    interrupt = words("agent", 3.0, 4.5, 3)       # cuts in mid-turn, 1.5 s of overlap
    m = compute_metrics(customer + interrupt, [], 6.0)
    assert m.interruptions == 1
    assert m.overtalk_s == pytest.approx(1.5)

    backchannel = words("agent", 2.0, 2.3, 1)      # "mm-hm": 0.3 s overlap, below threshold
    m = compute_metrics(customer + backchannel, [], 6.0)
    assert m.interruptions == 0
    assert m.overtalk_s == pytest.approx(0.3)

    latching = words("agent", 5.8, 8.0, 4)         # starts 0.2 s before the customer finishes
    m = compute_metrics(customer + latching, [], 8.0)
    assert m.interruptions == 0
    assert m.overtalk_s == pytest.approx(0.2)


def test_customer_cutting_in_is_not_an_agent_interruption() -> None:
    w = words("agent", 0, 5, 10) + words("customer", 2, 4, 4)
    m = compute_metrics(w, [], 5.0)
    assert m.interruptions == 0
    assert m.overtalk_s == pytest.approx(2.0)
    assert m.agent_talk_ratio == pytest.approx(5 / 7)


def test_two_interruptions_counted_once_each() -> None:
    w = words("customer", 0, 10, 20) + words("agent", 2, 3, 2) + words("agent", 6, 7.5, 3)
    assert compute_metrics(w, [], 10.0).interruptions == 2
    assert interruption_times(speech_intervals(w, "agent"), speech_intervals(w, "customer")) == [2.0, 6.0]


def test_empty_inputs_give_zeros_and_none() -> None:
    m = compute_metrics([], [], 0.0)
    assert (m.agent_talk_ratio, m.silence_ratio, m.longest_silence_s, m.overtalk_s) == (0.0, 0.0, 0.0, 0.0)
    assert (m.agent_words_per_minute, m.interruptions) == (0.0, 0)
    assert m.customer_sentiment_start is None and m.customer_sentiment_end is None
    silent = compute_metrics([], [], 12.0)
    assert silent.silence_ratio == 1.0 and silent.longest_silence_s == 0.0


def test_odd_timestamps_and_short_duration_stay_in_range() -> None:
    w = [Word(float("nan"), 1.0, " x", 1, "agent"), Word(3.0, 2.0, " y", 1, "agent"),
         Word(0.0, 4.0, " z", 1, "customer")]
    m = compute_metrics(w, [], 1.0)  # duration shorter than the speech: stretched to it
    assert m.customer_talk_ratio == 1.0 and m.agent_talk_ratio == 0.0
    assert m.silence_ratio == 0.0
    assert compute_metrics(w, [], float("nan")).silence_ratio == 0.0


def test_unknown_speaker_is_speech_but_no_side() -> None:
    w = words("agent", 0, 2, 2) + words("unknown", 2.5, 4.5, 2) + words("customer", 5, 7, 2)
    m = compute_metrics(w, [], 7.0)
    assert m.agent_talk_ratio == pytest.approx(0.5)
    assert m.silence_ratio == pytest.approx(1.0 / 7.0)


def test_customer_sentiment_start_and_end() -> None:
    scores = [-0.9, -0.6, -0.3, 0.0, 0.4, 0.8, 0.9]
    utts = [cust_utt(i, s, float(i)) for i, s in enumerate(scores)]
    m = compute_metrics([], utts, 10.0)
    assert m.customer_sentiment_start == "negative"  # mean(-0.9, -0.6, -0.3) = -0.6
    assert m.customer_sentiment_end == "positive"    # mean(0.4, 0.8, 0.9) = 0.7
    mixed = [cust_utt(i, s) for i, s in enumerate([-0.5, 0.5, 0.1, -0.2, -0.3, -0.4])]
    m = compute_metrics([], mixed, 6.0)
    assert m.customer_sentiment_start == "neutral"  # mean 0.033
    assert m.customer_sentiment_end == "negative"   # mean -0.3


def test_one_and_two_word_replies_do_not_set_the_mood() -> None:
    """An upset caller who signs off with "No." "Okay." "Brilliant." is still upset at the end."""
    upset = [cust_utt(i, -0.7, float(i), n_words=8) for i in range(5)]
    sign_off = [cust_utt(5 + i, s, 5.0 + i, n_words=1) for i, s in enumerate([0.0, 0.1, 0.8])]
    m = compute_metrics([], upset + sign_off, 10.0)
    assert (m.customer_sentiment_start, m.customer_sentiment_end) == ("negative", "negative")
    m_all = compute_metrics([], upset + sign_off, 10.0, sentiment_min_words=1)
    assert m_all.customer_sentiment_end == "positive"  # mean(0.0, 0.1, 0.8) = 0.3: the sign-off decided
    terse = [cust_utt(i, s, float(i)) for i, s in enumerate([-0.8, -0.6, 0.5, 0.6])]
    m = compute_metrics([], terse, 4.0)  # never three words: judged on everything said
    assert (m.customer_sentiment_start, m.customer_sentiment_end) == ("negative", "positive")


def test_short_calls_do_not_share_start_and_end_utterances() -> None:
    m = compute_metrics([], [cust_utt(0, -0.9), cust_utt(1, 0.9)], 2.0)
    assert (m.customer_sentiment_start, m.customer_sentiment_end) == ("negative", "positive")
    m = compute_metrics([], [cust_utt(0, -0.9), cust_utt(1, 0.0), cust_utt(2, 0.0), cust_utt(3, 0.9)], 4.0)
    assert (m.customer_sentiment_start, m.customer_sentiment_end) == ("negative", "positive")  # halves
    one = compute_metrics([], [cust_utt(0, -0.9)], 1.0)
    assert one.customer_sentiment_start == one.customer_sentiment_end == "negative"


def test_no_customer_speech_gives_none_sentiment() -> None:
    agent_only = [Utterance(0, "agent", 0, 1, "hello", 0, 1,
                            UtteranceLabels(Sentiment("positive", 0.9), None, Empathy(False, 0.1), None))]
    unlabelled = [Utterance(1, "customer", 1, 2, "hi", 1, 1, None)]
    m = compute_metrics([], agent_only + unlabelled, 2.0)
    assert m.customer_sentiment_start is None and m.customer_sentiment_end is None


@st.composite
def timelines(draw: st.DrawFn) -> list[Word]:
    out = []
    for _ in range(draw(st.integers(0, 30))):
        s = draw(st.floats(0, 100, allow_nan=False))
        d = draw(st.floats(0, 3, allow_nan=False))
        out.append(Word(s, s + d, " w", 1.0, draw(st.sampled_from(["agent", "customer", "unknown"]))))
    return out


@settings(max_examples=200, deadline=None)
@given(w=timelines(), duration=st.floats(0, 200, allow_nan=False))
def test_metric_bounds_hold_for_any_timeline(w: list[Word], duration: float) -> None:
    m = compute_metrics(w, [], duration)
    for r in (m.agent_talk_ratio, m.customer_talk_ratio, m.silence_ratio):
        assert 0.0 <= r <= 1.0
    agent = sum(e - s for s, e in speech_intervals(w, "agent"))
    customer = sum(e - s for s, e in speech_intervals(w, "customer"))
    assert m.overtalk_s <= min(agent, customer) + 1e-9
    if agent + customer > 0:
        assert math.isclose(m.agent_talk_ratio + m.customer_talk_ratio, 1.0)
    assert m.longest_silence_s <= max(duration, max((x.end for x in w), default=0.0))


def test_merge_intervals_unions_overlaps() -> None:
    assert merge_intervals([(5, 6), (0, 2), (1, 3)]) == [(0, 3), (5, 6)]
    assert merge_intervals([(0, 1), (1.1, 2)], gap=0.3) == [(0, 2)]


def test_hold_music_in_a_gap_is_a_hold_not_dead_air() -> None:
    # agent 0-4, customer 5-7, 50 s gap (music 8-56), agent 57-60; call 60 s
    w = words("agent", 0, 4, 4) + words("customer", 5, 7, 3) + words("agent", 57, 60, 3)
    silent = compute_metrics(w, [], 60.0)
    assert silent.longest_silence_s == pytest.approx(50.0) and silent.hold_s == 0.0
    music = compute_metrics(w, [], 60.0, sound=[(3.5, 56.0)])  # the run starts inside the agent's speech
    assert music.longest_silence_s == pytest.approx(1.0)  # 56-57; the 4-5 leftover is too short to count
    assert music.hold_s == pytest.approx(49.0) and music.longest_hold_s == pytest.approx(49.0)
    assert music.silence_ratio == pytest.approx((60 - 9 - 49) / 60)
    assert silent.silence_ratio == pytest.approx((60 - 9) / 60)


def test_short_sound_left_over_from_speech_is_not_a_hold() -> None:
    # energy of the agent's last word outlasts its timestamp by 0.4 s: not a hold
    w = words("agent", 0, 4, 4) + words("customer", 30, 32, 2)
    m = compute_metrics(w, [], 32.0, sound=[(0.0, 4.4), (20.0, 20.5)])
    assert m.hold_s == 0.0 and m.longest_silence_s == pytest.approx(26.0)


def test_sound_never_breaks_the_metric_bounds() -> None:
    w = words("agent", 0, 2, 2) + words("customer", 3, 4, 1)
    m = compute_metrics(w, [], 5.0, sound=[(-1.0, 2.0), (float("nan"), 3.0), (1.0, 9.0), (4.0, 3.0)])
    assert 0.0 <= m.silence_ratio <= 1.0 and m.longest_silence_s == pytest.approx(1.0) and m.hold_s == 0.0
