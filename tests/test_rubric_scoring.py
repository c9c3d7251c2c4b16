"""Each criterion kind, the scoring semantics and coaching, on hand-built labelled calls.

Phrase and custom-behaviour criteria use the real MiniLM encoder (loaded once per process).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import jsonschema
import pytest

from qm.config import PROJECT_ROOT, get_settings
from qm.metrics import compute_metrics
from qm.rubric import (
    CallView,
    CriterionKind,
    Rubric,
    RubricError,
    ScoringInput,
    Verdict,
    load_rubric,
    register_kind,
)
from qm.rubric.kinds.custom import CustomBehaviour
from qm.rubric.loader import clear_memo
from qm.rubric.spec import CriterionSpec
from qm.types import Empathy, Sentiment, Utterance, UtteranceLabels, Word

Row = tuple[str, float, float, str, dict[str, Any]]


def lab(sentiment: str = "neutral", score: float = 0.0, emotion: str | None = None, empathy: bool = False,
        question: str | None = None) -> dict[str, Any]:
    return {"sentiment": sentiment, "score": score, "emotion": emotion, "empathy": empathy, "question": question}


def call(rows: list[Row], duration: float | None = None) -> ScoringInput:
    """Utterances (with labels) and back-to-back words for each row; turns change with the speaker."""
    utts: list[Utterance] = []
    words: list[Word] = []
    turn, prev = -1, None
    for i, (speaker, start, end, text, kw) in enumerate(rows):
        if speaker != prev:
            turn, prev = turn + 1, speaker
        toks = text.split()
        step = (end - start) / max(len(toks), 1)
        words += [Word(start + k * step, start + (k + 1) * step, " " + t, 0.9, speaker)  # type: ignore[arg-type]
                  for k, t in enumerate(toks)]
        labels = UtteranceLabels(Sentiment(kw["sentiment"], kw["score"]), kw["emotion"],
                                 Empathy(kw["empathy"], 0.9 if kw["empathy"] else 0.1), kw["question"])
        utts.append(Utterance(i, speaker, start, end, text, turn, len(toks), labels))  # type: ignore[arg-type]
    dur = duration if duration is not None else (rows[-1][2] + 1 if rows else 0.0)
    return ScoringInput(utts, words, compute_metrics(words, utts, dur), dur)


@pytest.fixture()
def rubric_file(tmp_path: Path) -> Iterator[Any]:
    def make(criteria: str, skills: str = "") -> Rubric:
        body = "name: test\n" + (textwrap.dedent(skills) if skills else "") + "criteria:\n" + textwrap.indent(
            textwrap.dedent(criteria), "  ")
        p = tmp_path / "test.yaml"
        p.write_text(body)
        return load_rubric(p)

    yield make


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Custom-behaviour caches go to a per-test data dir (the real settings object, just pointed there)."""
    monkeypatch.setenv("QM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def only(outcome: Any) -> Any:
    assert len(outcome.criteria) == 1
    return outcome.criteria[0]


# --- label_count / label_ratio -------------------------------------------------------------------

QUESTIONS = """\
- id: questioning
  kind: label_count
  weight: 10
  where: {question: open}
  at_least: 2
  partial_credit: true
"""


def test_label_count_pass_partial_and_na(rubric_file: Any) -> None:
    r = rubric_file(QUESTIONS)
    two = call([("agent", 0, 2, "What happened?", lab(question="open")),
                ("customer", 2, 4, "It broke.", lab()),
                ("agent", 4, 6, "How did it break?", lab(question="open")),
                ("agent", 6, 7, "Is it on?", lab(question="closed"))])
    c = only(r.score(two))
    assert (c.passed, c.score, c.max_score, c.evidence) == (True, 10.0, 10.0, [0, 2])

    one = call([("agent", 0, 2, "What happened?", lab(question="open")),
                ("agent", 2, 3, "Is it on?", lab(question="closed")),
                ("customer", 3, 4, "Yes.", lab())])
    c = only(r.score(one))
    assert (c.passed, c.score, c.evidence) == (False, 5.0, [0])  # partial credit 1/2

    customer_only = call([("customer", 0, 2, "Hello?", lab())])
    c = only(r.score(customer_only))
    assert (c.passed, c.score, c.max_score) == (None, 0.0, 0.0)


def test_label_count_at_most_and_speaker_filter(rubric_file: Any) -> None:
    r = rubric_file("""\
        - id: calm_customer
          kind: label_count
          speaker: customer
          where: {emotion: [anger, anxiety]}
          at_most: 1
        """)
    angry = call([("customer", 0, 1, "This is ridiculous!", lab("negative", -0.9, "anger")),
                  ("agent", 1, 2, "I understand.", lab(emotion="anger")),  # agent rows are ignored
                  ("customer", 2, 3, "I'm so fed up.", lab("negative", -0.8, "anxiety"))])
    c = only(r.score(angry))
    assert c.passed is False and c.evidence == [0, 2]


RATIO = """\
- id: balance
  kind: label_ratio
  numerator: {question: open}
  denominator: {question: [open, closed]}
  at_least: 0.5
  min_count: 2
"""


def test_label_ratio(rubric_file: Any) -> None:
    r = rubric_file(RATIO)
    good = call([("agent", 0, 1, "What happened?", lab(question="open")),
                 ("agent", 1, 2, "When did it start?", lab(question="open")),
                 ("agent", 2, 3, "Is it plugged in?", lab(question="closed")),
                 ("agent", 3, 4, "Okay.", lab())])
    c = only(r.score(good))
    assert c.passed is True and c.evidence == [0, 1]
    bad = call([("agent", 0, 1, "Is it on?", lab(question="closed")),
                ("agent", 1, 2, "Is it red?", lab(question="closed")),
                ("agent", 2, 3, "What model?", lab(question="open"))])
    c = only(r.score(bad))
    assert c.passed is False and c.evidence == [0, 1] and "1/3" in c.detail
    none = call([("agent", 0, 1, "Hello.", lab()), ("agent", 1, 2, "Is it on?", lab(question="closed"))])
    assert only(r.score(none)).passed is None  # one question < min_count


# --- conditional -----------------------------------------------------------------------------------

EMPATHY = """\
- id: empathy
  kind: conditional
  weight: 10
  trigger: [{sentiment: negative}, {emotion: [anger, anxiety]}]
  response: {empathy: true}
  within_seconds: 10
  within_turns: 2
  partial_credit: true
"""


def test_conditional_answered_in_time(rubric_file: Any) -> None:
    r = rubric_file(EMPATHY)
    c = only(r.score(call([
        ("customer", 0, 3, "My order never arrived.", lab("negative", -0.7)),
        ("agent", 3.5, 6, "I'm so sorry, that's really frustrating.", lab(empathy=True)),
        ("customer", 6.5, 8, "Yes it is.", lab()),
    ])))
    assert c.passed is True and c.evidence == [1]


def test_conditional_missed_late_and_partial(rubric_file: Any) -> None:
    r = rubric_file(EMPATHY)
    c = only(r.score(call([
        ("customer", 0, 3, "I'm furious.", lab("neutral", 0.0, "anger")),
        ("agent", 3.5, 6, "Account number?", lab(question="closed")),
        ("customer", 6.5, 8, "12345.", lab()),
        ("agent", 8.5, 10, "Thanks.", lab()),
        ("customer", 10.5, 12, "Whatever.", lab()),
        ("agent", 30, 32, "I do understand how annoying this is.", lab(empathy=True)),  # >10 s, >2 turns
        ("customer", 33, 35, "This is the worst service ever.", lab("negative", -0.9)),
        ("agent", 35.5, 38, "I'm really sorry about that.", lab(empathy=True)),
    ])))
    assert c.passed is False
    assert c.score == pytest.approx(5.0)  # 1 of 2 triggers answered
    assert c.evidence == [0, 7] and "unanswered: #0" in c.detail


def test_conditional_response_flagged_by_a_failed_criterion_does_not_count(rubric_file: Any) -> None:
    """A snide remark the empathy head reads as acknowledgement is not one once professionalism flags it.

    The flagging criterion comes later in the file: references set the evaluation order, not the file.
    """
    r = rubric_file(EMPATHY + """\
  response_not_flagged_by: [conduct]
- id: conduct
  kind: phrase
  mode: forbidden
  regex: ['\\bnot the only (one|person)\\b']
""")
    rows: list[Row] = [
        ("customer", 0, 3, "My bag never arrived and I'm furious.", lab("negative", -0.8)),
        ("agent", 3.5, 6, "You're not the only person who lost a bag.", lab(empathy=True)),
        ("customer", 6.5, 8, "Unbelievable.", lab()),
    ]
    res = {c.id: c for c in r.score(call(rows)).criteria}
    assert [c.id for c in r.score(call(rows)).criteria] == ["empathy", "conduct"]  # reported in file order
    assert res["conduct"].passed is False and res["conduct"].evidence == [1]
    assert res["empathy"].passed is False and "flagged by conduct): #1" in res["empathy"].detail
    rows[1] = ("agent", 3.5, 6, "I'm so sorry, that's a horrible start to a trip.", lab(empathy=True))
    res = {c.id: c for c in r.score(call(rows)).criteria}
    assert res["conduct"].passed is True and res["empathy"].passed is True and res["empathy"].evidence == [1]
    assert "not counting responses flagged by conduct" in r.kinds[0].summary()  # `qm rubric show` says so
    # a flagged remark long after the trigger could not have answered it: the detail does not name it
    rows = [("customer", 0, 3, "My bag never arrived and I'm furious.", lab("negative", -0.8)),
            ("agent", 3.5, 6, "I'm so sorry, that's a horrible start to a trip.", lab(empathy=True)),
            ("customer", 6.5, 8, "Thanks.", lab()),
            ("agent", 100, 103, "You're not the only person who lost a bag.", lab(empathy=True))]
    res = {c.id: c for c in r.score(call(rows)).criteria}
    assert res["conduct"].passed is False and res["empathy"].passed is True
    assert "flagged by" not in res["empathy"].detail, res["empathy"].detail


def test_conditional_not_applicable(rubric_file: Any) -> None:
    r = rubric_file(EMPATHY)
    calm = call([("customer", 0, 2, "Hi, I'd like to check my balance.", lab("positive", 0.5)),
                 ("agent", 2, 4, "Of course.", lab())])
    assert only(r.score(calm)).passed is None
    hung_up = call([("agent", 0, 2, "Hello.", lab()), ("customer", 2, 4, "You're useless.", lab("negative", -0.9))])
    c = only(r.score(hung_up))
    assert c.passed is None and "ending" in c.detail


UPSET_EMPATHY = """\
- id: empathy
  kind: conditional
  weight: 10
  trigger: {sentiment: negative}
  trigger_examples:
    regex: ['\\bi''m (really )?(upset|furious|worried)\\b']
    positive: ["This is absolutely ridiculous.", "I'm at my wits' end.", "I'm so stressed about it.",
               "That's disgraceful, I want to complain."]
    negative: ["My internet has been down since Monday.", "I was charged twice for one order.",
               "The file comes out empty when I export it.", "I'd like to change my address."]
  response: {empathy: true, min_words: 3}
  within_turns: 2
  require: %s
  partial_credit: true
"""


def test_conditional_trigger_examples_ignore_plain_problem_statements(rubric_file: Any) -> None:
    r = rubric_file(UPSET_EMPATHY % "any")
    # A sentiment head calls a factual fault report negative; no reviewer calls that caller upset.
    plain = call([("customer", 0, 3, "When I export the sales report the file comes out empty.", lab("negative", -0.9)),
                  ("agent", 3.5, 6, "Which browser are you using?", lab(question="open"))])
    c = only(r.score(plain))
    assert c.passed is None and "never happened" in c.detail
    upset = call([("customer", 0, 3, "This is ridiculous, it's the third time it's failed.", lab("negative", -0.9)),
                  ("agent", 3.5, 6, "Which browser are you using?", lab(question="open"))])
    c = only(r.score(upset))
    assert c.passed is False and c.evidence == [0]
    cue = call([("customer", 0, 3, "Honestly I'm really worried about the bill.", lab("negative", -0.6)),
                ("agent", 3.5, 6, "That sounds really worrying, let's sort it.", lab(empathy=True))])
    assert only(r.score(cue)).passed is True
    # explicit wording counts on its own: the sentiment head calls this neutral, the regex cue does not care
    said_so = call([("customer", 0, 3, "I'm really upset, to be honest.", lab("neutral", -0.1)),
                    ("agent", 3.5, 6, "Which browser are you using?", lab(question="open"))])
    c = only(r.score(said_so))
    assert c.passed is False and c.evidence == [0]


def test_conditional_examples_nearest_neighbour_rule(rubric_file: Any) -> None:
    """With ``counter_margin`` an example set is a nearest-neighbour rule: the nearest positive must be the
    margin closer than the nearest negative, whatever a linear model would say."""
    from qm.nlp.encoder import get_similarity_encoder

    said = "I'm worried sick the money won't come back."
    pos, neg = "I'm so worried about the money.", "I'm not worried about the money any more."
    v = get_similarity_encoder().encode([said, pos, neg])
    gap = float(v[0] @ v[1] - v[0] @ v[2])
    assert gap > 0.04
    spec = f"""\
        - id: empathy
          kind: conditional
          weight: 10
          trigger: {{{{sentiment: negative}}}}
          trigger_examples:
            positive: ["{pos}", "This is ridiculous.", "I'm at my wits' end."]
            negative: ["{neg}", "I'd like to change my address.", "My internet is down."]
            min_similarity: 0.3
            counter_margin: {{margin}}
          response: {{{{empathy: true}}}}
          within_turns: 2
        """
    rows = call([("customer", 0, 3, said, lab("negative", -0.7)),
                 ("agent", 3.5, 6, "Can I take your account number?", lab())])
    near = only(rubric_file(spec.format(margin=round(gap - 0.02, 3))).score(rows))
    assert near.passed is False and near.evidence == [0], near.detail  # a trigger nobody answered
    far = only(rubric_file(spec.format(margin=round(gap + 0.02, 3))).score(rows))
    assert far.passed is None and "never happened" in far.detail


def test_conditional_examples_can_use_the_labeller_vectors(rubric_file: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``encoder: labeller`` on an example set reads the adapted vectors the heads read; the rule sees them."""
    from qm.nlp.encoder import get_encoder
    from qm.rubric import examples as ex_mod

    seen: list[int] = []
    real = ex_mod.ExampleClassifier._judge

    def spy(self: Any, texts: list[str], x: Any) -> Any:
        seen.append(x.shape[1])
        out = real(self, texts, x)
        want = get_encoder().encode(texts)
        assert abs(float((x - want).max())) < 1e-5  # the labeller's vectors, not the plain ones
        return out

    monkeypatch.setattr(ex_mod.ExampleClassifier, "_judge", spy)
    spec = """\
        - id: empathy
          kind: conditional
          weight: 10
          trigger: {sentiment: negative}
          trigger_examples:
            positive: ["This is ridiculous.", "I'm at my wits' end.", "I'm so worried."]
            negative: ["I'd like to change my address.", "My internet is down.", "I was charged twice."]
            counter_margin: 0.05
            encoder: labeller
          response: {empathy: true}
          within_turns: 2
        """
    rows = call([("customer", 0, 3, "This is absolutely ridiculous.", lab("negative", -0.9)),
                 ("agent", 3.5, 6, "I'm so sorry, that sounds really stressful.", lab(empathy=True))])
    c = only(rubric_file(spec).score(rows))
    assert seen and c.passed is True, c.detail


def test_conditional_min_words_and_require_modes(rubric_file: Any) -> None:
    rows = [("customer", 0, 2, "This is absolutely ridiculous.", lab("negative", -0.9)),
            ("agent", 2.5, 3, "Great.", lab(empathy=True)),  # a filler: too short to be empathy
            ("customer", 3.5, 5, "I'm really upset.", lab("negative", -0.9)),
            ("agent", 5.5, 8, "I'm so sorry, that sounds awful.", lab(empathy=True)),
            ("customer", 8.5, 10, "I'm furious, frankly.", lab("negative", -0.9)),
            ("agent", 20, 21, "Account number?", lab(question="closed")),
            ("customer", 21.5, 22, "One two three.", lab()),
            ("agent", 22.5, 23, "Thanks.", lab())]
    c = only(rubric_file(UPSET_EMPATHY % "any").score(call(rows)))
    assert c.passed is True and c.score == 10  # a passed criterion earns its full weight
    assert c.evidence == [0, 3, 4] and "1 of 3" in c.detail  # "Great." does not count as an answer
    c = only(rubric_file(UPSET_EMPATHY % "all").score(call(rows)))
    assert c.passed is False and c.score == pytest.approx(10 / 3)  # partial credit: 1 of 3 answered
    ratio = rubric_file((UPSET_EMPATHY % "ratio") + "  min_ratio: 0.3\n")
    assert only(ratio.score(call(rows))).passed is True
    ratio = rubric_file((UPSET_EMPATHY % "ratio") + "  min_ratio: 0.5\n")
    assert only(ratio.score(call(rows))).passed is False


def test_conditional_count_by_turn_counts_one_upset_moment_per_turn(rubric_file: Any) -> None:
    """Two upset sentences of one turn are one moment: answering the turn answers both, and an unanswered
    two-sentence turn no longer outweighs an answered one (a reviewer's "half of the upset moments")."""
    rows: list[Row] = [
        ("customer", 0, 3, "My dog needed surgery and I'm worried sick.", lab("negative", -0.8)),
        ("agent", 3.5, 6, "Oh no, that must have been frightening.", lab(empathy=True)),
        ("customer", 6.5, 8, "Her name is Bramble.", lab()),
        ("agent", 60, 62, "Can I take the policy number?", lab(question="closed")),
        ("customer", 62.5, 64, "I can't afford two thousand pounds.", lab("negative", -0.8)),
        ("customer", 64.2, 66, "It's been a horrible week.", lab("negative", -0.8)),
        ("agent", 100, 102, "The claim form is on its way.", lab()),
    ]
    ratio = """\
- id: empathy
  kind: conditional
  trigger: {sentiment: negative}
  response: {empathy: true, min_words: 3}
  within_turns: 2
  require: ratio
  min_ratio: 0.5
"""
    per_utt = only(rubric_file(ratio).score(call(rows)))
    assert per_utt.passed is False and "1 of 3 trigger(s)" in per_utt.detail
    per_turn = rubric_file(ratio + "  count_by: turn\n")
    c = only(per_turn.score(call(rows)))
    assert c.passed is True and "1 of 2 turn(s) with a trigger" in c.detail
    assert c.evidence == [1, 4, 5]  # the answer, then both sentences of the unanswered turn
    assert "turns with a trigger" in per_turn.kinds[0].summary()
    # the default (per utterance) keeps the version a rubric had before the option existed
    assert rubric_file(ratio + "  count_by: utterance\n").version == rubric_file(ratio).version
    assert per_turn.version != rubric_file(ratio).version


def test_conditional_ratio_needs_min_ratio(rubric_file: Any) -> None:
    with pytest.raises(RubricError, match="min_ratio"):
        rubric_file(UPSET_EMPATHY % "ratio")
    with pytest.raises(RubricError, match="both positive and negative"):
        rubric_file((UPSET_EMPATHY % "any").replace('"I\'d like to change my address."',
                                                    '"This is absolutely ridiculous."'))


# --- phrase ------------------------------------------------------------------------------------------

GREETING = """\
- id: greeting
  kind: phrase
  weight: 5
  window: {first_seconds: 20}
  threshold: 0.55
  examples:
    - "Thank you for calling, my name is Sam, how can I help you today?"
    - "Good morning, you're through to customer services."
"""


def test_phrase_meaning_match_in_window(rubric_file: Any) -> None:
    r = rubric_file(GREETING)
    paraphrase = call([("agent", 1, 4, "Thanks so much for ringing us, Alex speaking, what can I do for you?", lab()),
                       ("customer", 4, 6, "Hi there.", lab())])
    c = only(r.score(paraphrase))
    assert c.passed is True and c.evidence == [0] and "similarity" in c.detail
    late = call([("agent", 1, 3, "Okay.", lab()), ("customer", 3, 25, "Hi, I have a problem.", lab()),
                 ("agent", 26, 30, "Thank you for calling, my name is Sam, how can I help?", lab())])
    c = only(r.score(late))
    assert c.passed is False and c.evidence == [] and "closest #0" in c.detail
    assert only(r.score(call([("customer", 0, 2, "Hello?", lab())]))).passed is None


def test_phrase_regex_only_with_last_utterances_window(rubric_file: Any) -> None:
    r = rubric_file("""\
        - id: closing
          kind: phrase
          window: {last_utterances: 2}
          regex: ['\\banything else\\b', '\\bgoodbye\\b']
        """)
    rows: list[Row] = [("agent", 0, 2, "Is there anything else?", lab()), ("agent", 2, 4, "Let me check.", lab()),
                       ("agent", 4, 6, "Done.", lab()), ("customer", 6, 7, "Goodbye.", lab())]
    assert only(r.score(call(rows))).passed is False  # the agent's last two say neither; customer's bye ignored
    rows[2] = ("agent", 4, 6, "Right, goodbye then.", lab())
    c = only(r.score(call(rows)))
    assert c.passed is True and c.evidence == [2] and "regex" in c.detail


def test_phrase_counter_examples_veto_a_closer_meaning_match(rubric_file: Any) -> None:
    """An agent owning a mistake reads like blame to the encoder; a counter-example says it is not."""
    spec = """\
        - id: blame
          kind: phrase
          mode: forbidden
          threshold: 0.6
          examples: ["That's your fault, not mine."]
          regex: ['\\byour own fault\\b']
        """
    owning = call([("agent", 0, 2, "That's our mistake, not yours.", lab()), ("customer", 2, 3, "Okay.", lab())])
    c = only(rubric_file(spec).score(owning))
    assert c.passed is False and c.evidence == [0]  # without counter-examples: a false alarm
    vetoed = rubric_file(spec.rstrip() + '\n          counter_examples: ["The mistake was ours, not yours."]\n')
    c = only(vetoed.score(owning))
    assert c.passed is True and c.evidence == [], c.detail
    assert "#0 overruled by a counter-example" in c.detail  # a reviewer sees the near miss
    blaming = call([("agent", 0, 2, "That one is your fault, not mine.", lab()),
                    ("customer", 2, 3, "Okay.", lab()), ("agent", 3, 5, "It's your own fault really.", lab())])
    c = only(vetoed.score(blaming))
    assert c.passed is False and c.evidence == [0, 2] and "regex" in c.detail


CONDUCT = """\
    - id: conduct
      kind: phrase
      mode: forbidden
      regex: ['\\bnot my problem\\b']
    """


def test_phrase_reactions_mark_the_utterance_the_other_speaker_answers(rubric_file: Any) -> None:
    """A sarcasm no example foresaw is caught by the customer's reply; the evidence is the agent's remark."""
    spec = CONDUCT.rstrip() + "\n      reactions: ['\\bno need to be rude\\b']\n"
    r = rubric_file(spec)
    rows: list[Row] = [
        ("agent", 0, 2, "Hello, how can I help?", lab()),
        ("customer", 2, 5, "My parcel never came.", lab()),
        ("agent", 5, 7, "Right, let me look.", lab()),
        ("agent", 7, 10, "Did you expect it to walk to you?", lab()),
        ("customer", 10, 12, "Sorry? There's no need to be rude.", lab()),
        ("agent", 12, 14, "I'll send a new one today.", lab()),
    ]
    c = only(r.score(call(rows)))
    assert c.passed is False and c.evidence == [3], c.detail  # the agent's last utterance before the reply
    assert "#3 (the reply #4 reacts to it)" in c.detail
    calm = [*rows[:4], ("customer", 10, 12, "Ha, no, but it would be nice.", lab()), rows[5]]
    assert only(r.score(call(calm))).passed is True
    # a reaction before the agent has said anything answers nobody; the agent's own words never react
    first = [("customer", 0, 2, "The last man was so rude, no need to be rude like that.", lab()),
             ("agent", 2, 4, "No need to be rude, I agree. Let me help.", lab())]
    assert only(r.score(call(first))).passed is True
    # a regex hit and a reaction to the same remark: one piece of evidence, the regex named
    both = [("agent", 0, 2, "That's not my problem.", lab()), ("customer", 2, 4, "No need to be rude!", lab())]
    c = only(r.score(call(both)))
    assert c.passed is False and c.evidence == [0] and "(regex)" in c.detail
    # Whisper split the agent's turn: the reply marks the turn's most remark-like utterance, not merely its last
    split = [("agent", 0, 2, "Hello, how can I help?", lab()), ("customer", 2, 5, "My parcel never came.", lab()),
             ("agent", 5, 8, "Did you expect it to walk to your door by itself?", lab()),
             ("agent", 8, 10, "I'll text you the tracking link now.", lab()),
             ("customer", 10, 12, "There's no need to be rude.", lab())]
    assert only(r.score(call(split))).evidence == [3]  # regex only: nothing tells them apart, so the last
    with_examples = rubric_file(spec.rstrip() + '\n      threshold: 0.99\n'
                                '      examples: ["Did you expect it to fly to you?"]\n')
    c = only(with_examples.score(call(split)))
    assert c.passed is False and c.evidence == [2], c.detail
    with pytest.raises(RubricError, match="reactions are the other speaker's replies"):
        rubric_file(spec.replace("mode: forbidden", "mode: forbidden\n      speaker: any"))


def test_an_option_added_later_versions_a_rubric_only_when_set(rubric_file: Any) -> None:
    """Upgrading qm must not re-version stored rubrics: an unset (or empty) ``reactions`` list leaves the hash alone."""
    from qm.rubric.loader import _criterion_payload

    r = rubric_file(CONDUCT)
    assert "reactions" not in _criterion_payload(r.kinds[0].spec)  # hashed exactly as before the option existed
    plain = r.version
    assert rubric_file(CONDUCT.rstrip() + "\n      reactions: []\n").version == plain
    assert rubric_file(CONDUCT.rstrip() + "\n      reactions: ['\\bhow rude\\b']\n").version != plain
    # how ``clauses: true`` cuts an utterance is part of the version: a rubric using it names the clause rule
    from qm.rubric.examples import CLAUSE_RULE

    with_clauses = rubric_file("""\
        - id: conduct
          kind: phrase
          mode: forbidden
          examples: ["That's your own fault."]
          clauses: true
        """)
    assert _criterion_payload(with_clauses.kinds[0].spec)["clauses"] == CLAUSE_RULE


def test_phrase_counter_margin_needs_the_example_clearly_nearer(rubric_file: Any) -> None:
    """With a margin, an utterance only a little nearer an example than a counter-example is vetoed."""
    from qm.nlp.encoder import get_similarity_encoder

    said = "That one is your fault, not mine."
    example, counter = "That's your fault, not mine.", "The mistake was ours, not yours."
    v = get_similarity_encoder().encode([said, example, counter])
    gap = float(v[0] @ v[1] - v[0] @ v[2])
    assert gap > 0.05  # the example is nearer; the margin decides whether that is near enough
    spec = f"""\
        - id: blame
          kind: phrase
          mode: forbidden
          threshold: 0.5
          examples: ["{example}"]
          counter_examples: ["{counter}"]
          counter_margin: {{margin}}
        """
    rows = call([("agent", 0, 2, said, lab()), ("customer", 2, 3, "Okay.", lab())])
    below = only(rubric_file(spec.format(margin=round(gap - 0.03, 3))).score(rows))
    assert below.passed is False and below.evidence == [0]
    above = only(rubric_file(spec.format(margin=round(gap + 0.03, 3))).score(rows))
    assert above.passed is True and "overruled by a counter-example" in above.detail


def test_phrase_can_match_in_the_labeller_vector_space(rubric_file: Any) -> None:
    """``encoder: labeller`` compares the adapted vectors the classifier heads read, not the plain ones."""
    from qm.nlp.encoder import get_encoder, get_similarity_encoder

    said, example = "Well, that's what you get for not reading the letter.", "You should have read the letter."
    spec = f"""\
        - id: blame
          kind: phrase
          mode: forbidden
          threshold: 0.1
          examples: ["{example}"]
          encoder: {{space}}
        """
    rows = call([("agent", 0, 2, said, lab()), ("customer", 2, 3, "Okay.", lab())])
    for space, enc in (("labeller", get_encoder()), ("similarity", get_similarity_encoder())):
        v = enc.encode([said, example])
        c = only(rubric_file(spec.format(space=space)).score(rows))
        assert f"similarity {float(v[0] @ v[1]):.2f}" in c.detail, (space, c.detail)
    a, b = get_encoder().encode([said, example]), get_similarity_encoder().encode([said, example])
    assert abs(float(a[0] @ a[1]) - float(b[0] @ b[1])) > 0.01  # the two spaces really differ here


def _default_criterion(cid: str, examples: str) -> tuple[Rubric, Any, dict[str, list[str]]]:
    """The default rubric, one of its criteria and the examples file it reads."""
    import yaml

    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    kind = next(k for k in r.kinds if k.spec.id == cid)
    return r, kind, yaml.safe_load((PROJECT_ROOT / "rubrics" / "examples" / f"{examples}.yaml").read_text())


def _agent_says(r: Rubric, cid: str, said: str, labels: dict[str, Any] | None = None) -> Any:
    rows = [("agent", 2, 5, said, labels or lab()), ("customer", 6, 8, "Okay.", lab())]
    return {c.id: c for c in r.score(call(rows, duration=10.0)).criteria}[cid]


@pytest.mark.parametrize(("said", "expected"), [
    ("Thanks for flying Skyline Air and have a good evening.", True),  # "good evening" once slipped the regex
    ("You have a nice day now.", True),
    ("Thank you for choosing Harbour Bank.", True),
    ("It's all on your file.", False),
    ("Have a look at the email I sent.", False),
])
def test_default_closing_wording(said: str, expected: bool) -> None:
    c = _agent_says(load_rubric("default", PROJECT_ROOT / "rubrics"), "closing", said)
    assert c.passed is expected, (said, c.detail)


def test_default_professionalism_uses_its_examples_file() -> None:
    """A remark known only from the examples file (no regex, not inline) fails the call; ordinary ones pass."""
    r, kind, extra = _default_criterion("professionalism", "professionalism")
    assert len(kind.spec.examples) > 400 and len(kind.spec.counter_examples) > 5000
    remark = "A box. On a porch. Which is kind of what delivered looks like."
    assert remark in extra["examples"] and not any(p.search(remark) for p in kind.spec.patterns())
    for said, expected in ((remark, False), ("I've booked the engineer for Thursday morning.", True),
                           ("I'm so sorry, that must have been a horrible shock.", True)):
        c = _agent_says(r, "professionalism", said)
        assert c.passed is expected, (said, c.detail)


def test_default_resolution_is_a_next_step_nearer_the_fixes_than_the_vague_promises() -> None:
    """Resolution reads its examples file: a labelled next step passes, a labelled non-answer fails."""
    r, kind, extra = _default_criterion("resolution", "resolution")
    assert kind.spec.encoder == "labeller" and not kind.spec.regex
    fix = "A patrol is on the way and should be with you in about forty minutes."
    vague = "Someone should get back to you."
    assert fix in extra["examples"] and vague in extra["counter_examples"]
    for said, expected in ((fix, True), (vague, False),
                           ("An engineer will come out on Thursday morning to replace the router.", True),
                           ("I'll pass it on and see what they say.", False)):
        c = _agent_says(r, "resolution", said)
        assert c.passed is expected, (said, c.detail)


def test_default_identity_reads_its_examples_file() -> None:
    """A request known only from the examples file (no regex) verifies; asking only for a name does not."""
    r, kind, extra = _default_criterion("identity_verification", "identity_verification")
    known = "And can you confirm the street address for me?"
    assert known in extra["examples"] and not any(p.search(known) for p in kind.spec.patterns())
    assert kind.spec.encoder == "labeller" and kind.spec.counter_margin > 0
    for said, expected in ((known, True), ("Could you confirm the billing address we hold for you?", True),
                           ("Can I take your name?", False), ("Lovely, and how are you today?", False)):
        c = _agent_says(r, "identity_verification", said, lab(question="closed"))
        assert c.passed is expected, (said, c.detail)


def test_default_empathy_reads_its_upset_and_acknowledgement_files() -> None:
    """The trigger knows upset worded like the bench callers' (no regex), not a calm fault report the sentiment
    head calls negative; the response knows an acknowledgement from the agents' file."""
    r, kind, upset_file = _default_criterion("empathy", "upset")
    files = {"upset": upset_file, "acknowledgement": _default_criterion("empathy", "acknowledgement")[2]}
    upset, calm = "And I'm paying for a service I'm not getting.", "A couple of tiles are hanging off the gutter."
    ack = "Completely understandable, you're doing the right thing by ringing."
    assert upset in files["upset"]["examples"] and calm in files["upset"]["counter_examples"]
    assert ack in files["acknowledgement"]["examples"]
    assert not kind.trigger_clf.explicit(upset) and not kind.response_clf.explicit(ack)

    def verdict(customer: str, agent: str) -> Any:
        rows = [("customer", 0, 3, customer, lab("negative", -0.8)),
                ("agent", 3.5, 6, agent, lab(empathy=True)), ("customer", 6.5, 8, "Okay.", lab())]
        return {c.id: c for c in r.score(call(rows, duration=10.0)).criteria}["empathy"]

    assert verdict(upset, ack).passed is True
    assert verdict(upset, "Can I take your account number?").passed is False
    plain = verdict(calm, ack)
    assert plain.passed is None, plain.detail


PROFESSIONALISM = """\
- id: professionalism
  kind: phrase
  mode: forbidden
  auto_fail: true
  skill: professionalism
  weight: 10
  threshold: 0.65
  examples: ["That's not my problem.", "You're an idiot.", "Stop wasting my time."]
- id: greeting
  kind: phrase
  weight: 5
  regex: hello
"""
SKILLS = """\
skills:
  professionalism:
    resources: [{title: Conduct, url: "https://training.example.com/conduct"}]
"""


def test_forbidden_phrase_auto_fails_the_call(rubric_file: Any) -> None:
    r = rubric_file(PROFESSIONALISM, SKILLS)
    rude = call([("agent", 0, 2, "Hello, how can I help?", lab()),
                 ("customer", 2, 4, "My bill is wrong again.", lab("negative", -0.6)),
                 ("agent", 4, 6, "Honestly, that's not my problem, mate.", lab())])
    out = r.score(rude)
    prof, greet = out.criteria
    assert prof.passed is False and prof.auto_fail is True and prof.evidence == [2]
    assert greet.passed is True
    assert out.auto_failed is True and out.score == 0.0
    assert out.coaching[0].skill == "professionalism"
    assert out.coaching[0].resources == [{"title": "Conduct", "url": "https://training.example.com/conduct"}]

    polite = call([("agent", 0, 2, "Hello, how can I help?", lab()),
                   ("customer", 2, 4, "You're an idiot.", lab("negative", -0.9)),  # the customer may be rude
                   ("agent", 4, 6, "I'm sorry you feel that way, let me sort this out.", lab(empathy=True))])
    out = r.score(polite)
    assert out.criteria[0].passed is True and out.criteria[0].auto_fail is False
    assert out.auto_failed is False and out.score == 100.0 and out.coaching == []


# --- custom_behaviour -----------------------------------------------------------------------------------

CALLBACK = """\
- id: offers_callback
  kind: custom_behaviour
  weight: 10
  positive:
    - "I can arrange for someone to call you back tomorrow morning."
    - "Would you like me to schedule a callback at a time that suits you?"
    - "I'll ask a specialist to ring you back this afternoon."
    - "If you prefer, we can call you back once the engineer has checked."
  negative:
    - "Please hold while I check that for you."
    - "Can I have your account number please?"
    - "Is there anything else I can help you with?"
    - "Can you call us back later?"
"""


def test_custom_behaviour_detects_and_caches(rubric_file: Any, isolated_data_dir: Path) -> None:
    r = rubric_file(CALLBACK)
    offer = call([("customer", 0, 2, "I can't talk now.", lab()),
                  ("agent", 2, 5, "No problem, shall I get one of our advisors to phone you back later today?", lab()),
                  ("customer", 5, 6, "Yes please.", lab())])
    no_offer = call([("customer", 0, 2, "I can't talk now.", lab()),
                     ("agent", 2, 5, "Okay, please hold while I look at your account.", lab()),
                     ("agent", 5, 7, "Your balance is forty pounds.", lab())])
    first = only(r.score(offer))
    assert first.passed is True and first.evidence == [1] and "p=" in first.detail
    assert only(r.score(no_offer)).passed is False

    kind = r.kinds[0]
    assert isinstance(kind, CustomBehaviour) and not kind.from_cache
    assert kind.cache_path is not None and kind.cache_path.parent == isolated_data_dir / "cache" / "custom_behaviour"
    assert kind.cache_path.exists()

    clear_memo()  # force a real reload, which must find the on-disk classifier
    again = load_rubric(r.path)
    cached = again.kinds[0]
    assert isinstance(cached, CustomBehaviour) and cached.from_cache
    assert only(again.score(offer)) == first  # the cached model scores byte-identically


def test_custom_behaviour_regex_counts_as_found(rubric_file: Any) -> None:
    r = rubric_file(CALLBACK + "  regex: ['\\bcallback (at|on) \\d']\n")
    # far from every positive example, so only the explicit cue can find it
    odd = call([("agent", 0, 2, "Callback at 4 confirmed, reference 77.", lab())])
    res = only(r.score(odd))
    assert res.passed is True and res.evidence == [0] and "regex" in res.detail
    plain = call([("agent", 0, 2, "Your balance is forty pounds.", lab())])
    assert only(r.score(plain)).passed is False


def test_custom_behaviour_bad_regex_is_a_clear_error(rubric_file: Any) -> None:
    with pytest.raises(RubricError, match=r"does not compile"):
        rubric_file(CALLBACK + "  regex: ['callback (']\n")


# --- metric --------------------------------------------------------------------------------------------------

def test_metric_interruptions_with_evidence(rubric_file: Any) -> None:
    r = rubric_file("""\
        - id: active_listening
          kind: metric
          checks:
            - {metric: interruptions, at_most: 0}
            - {metric: longest_silence_s, at_most: 30}
          partial_credit: true
        """)
    interrupted = call([("customer", 0, 6, "So I was saying the router keeps dropping the line every night", lab()),
                        ("agent", 3, 5, "Yes yes I know let me stop you", lab()),
                        ("agent", 6.5, 8, "Right then.", lab())])
    c = only(r.score(interrupted))
    assert c.passed is False and c.evidence == [1] and c.score == pytest.approx(0.5)
    assert "interruptions=1" in c.detail
    agent_only = call([("agent", 0, 3, "Hello, is anyone there?", lab())])
    c = only(r.score(agent_only))
    assert c.passed is True and "longest_silence_s" in c.detail  # interruptions skipped, silence measurable


def test_metric_needs_both_sides(rubric_file: Any) -> None:
    r = rubric_file("- {id: talk, kind: metric, metric: agent_talk_ratio, at_least: 0.3, at_most: 0.7}\n")
    assert only(r.score(call([("agent", 0, 3, "Hello there.", lab())]))).passed is None
    balanced = call([("agent", 0, 3, "Hello there how are you", lab()),
                     ("customer", 3.5, 6, "Fine thanks a lot", lab())])
    assert only(r.score(balanced)).passed is True
    dead_air = call([("agent", 0, 1, "One", lab()), ("customer", 60, 61, "Two", lab())], duration=61)
    r2 = rubric_file("- {id: dead_air, kind: metric, metric: longest_silence_s, at_most: 30}\n")
    c = only(r2.score(dead_air))
    assert c.passed is False and c.evidence == [0, 1]


# --- sentiment_trajectory ------------------------------------------------------------------------------------

def test_sentiment_trajectory(rubric_file: Any) -> None:
    r = rubric_file("""\
        - {id: not_worse, kind: sentiment_trajectory, require: not_worse}
        - {id: recovered, kind: sentiment_trajectory, require: improved, when_start: negative}
        """)
    recovered = call([("customer", 0, 1, "This is awful.", lab("negative", -0.9)),
                      ("agent", 1, 2, "Let me fix it.", lab()),
                      ("customer", 2, 3, "Oh great, thank you so much!", lab("positive", 0.9))])
    a, b = r.score(recovered).criteria
    assert a.passed is True and b.passed is True and a.evidence == [0, 2]
    soured = call([("customer", 0, 1, "Hi, lovely day.", lab("positive", 0.8)),
                   ("customer", 1, 2, "Wait, what?", lab("neutral", 0.0)),
                   ("customer", 2, 3, "That's outrageous.", lab("negative", -0.9)),
                   ("customer", 3, 4, "I want to cancel.", lab("negative", -0.7)),
                   ("customer", 4, 5, "Terrible.", lab("negative", -0.9))])
    a, b = r.score(soured).criteria
    assert a.passed is False and b.passed is None  # did not start negative
    one = call([("customer", 0, 1, "Hello.", lab())])
    assert all(c.passed is None for c in r.score(one).criteria)


def test_sentiment_trajectory_not_left_upset(rubric_file: Any) -> None:
    r = rubric_file("- {id: outcome, kind: sentiment_trajectory, require: not_left_upset, min_gain: 0.3}\n")

    def customer(start: list[float], end: list[float]) -> ScoringInput:
        scores = [*start, *end]
        return call([("customer", i, i + 0.9, f"Sentence {i}.",
                      lab("negative" if v <= -0.2 else "positive" if v >= 0.2 else "neutral", v))
                     for i, v in enumerate(scores)])

    still_angry = only(r.score(customer([-0.6, -0.5, -0.6], [-0.6, -0.4, -0.5])))
    assert still_angry.passed is False and "-0.57 → -0.50" in still_angry.detail  # "not worse", yet left upset
    calmer = only(r.score(customer([-0.9, -0.8, -0.9], [-0.5, -0.3, -0.4])))
    assert calmer.passed is True  # still negative, but up by 0.47
    settled = only(r.score(customer([0.1, 0.0, 0.0], [0.0, -0.1, 0.0])))
    assert settled.passed is True  # neutral throughout
    soured = only(r.score(customer([0.5, 0.4, 0.6], [-0.3, -0.5, -0.4])))
    assert soured.passed is False
    # upset_at: a calm goodbye the head scores a little negative is not an upset customer; a clear one still is
    lenient = rubric_file("- {id: outcome, kind: sentiment_trajectory, require: not_left_upset, upset_at: -0.35}\n")
    calm_goodbye = customer([0.0, 0.1, 0.0], [-0.2, -0.3, -0.3])
    assert only(r.score(calm_goodbye)).passed is False
    assert only(lenient.score(calm_goodbye)).passed is True
    assert only(lenient.score(customer([0.5, 0.4, 0.6], [-0.3, -0.5, -0.4]))).passed is False
    with pytest.raises(RubricError, match="upset_at applies to require: not_left_upset"):
        rubric_file("- {id: o, kind: sentiment_trajectory, require: improved, upset_at: -0.3}\n")


def test_sentiment_trajectory_closing_words_decide_first(rubric_file: Any) -> None:
    """The head reads relief as negative and sarcasm as positive; an explicit closing verdict wins."""
    r = rubric_file("""\
        - id: outcome
          kind: sentiment_trajectory
          require: not_left_upset
          end_cues:
            last_utterances: 3
            satisfied: ['\\bwhat a relief\\b', '\\bthank goodness\\b']
            dissatisfied: ['\\bthanks for nothing\\b']
        """)

    def customer(*rows: tuple[str, float]) -> ScoringInput:
        return call([("customer", i, i + 0.9, text,
                      lab("negative" if v <= -0.2 else "positive" if v >= 0.2 else "neutral", v))
                     for i, (text, v) in enumerate(rows)])

    relieved = only(r.score(customer(("I'm so worried about the money.", -0.8), ("I can't sleep for it.", -0.7),
                                     ("Oh, what a relief, I was dreading it.", -0.6), ("I was in a state.", -0.7))))
    assert relieved.passed is True and relieved.evidence == [2] and "satisfied (cue)" in relieved.detail
    sarcastic = only(r.score(customer(("My order never came.", -0.6), ("It was for a birthday.", -0.5),
                                      ("Brilliant, thanks for nothing then.", 0.6), ("Have a lovely day.", 0.7))))
    assert sarcastic.passed is False and sarcastic.evidence == [2]
    # the last cue in time decides; cues before the closing window do not count
    changed = only(r.score(customer(("Thanks for nothing so far.", -0.4), ("Hang on, let me look.", 0.0),
                                    ("Oh, what a relief.", 0.1), ("It was in my bag all along.", 0.0))))
    assert changed.passed is True and changed.evidence == [2]
    early = only(r.score(customer(("Thanks for nothing, honestly.", -0.6), ("I'm still waiting here.", -0.6),
                                  ("Nothing has arrived at all.", -0.6), ("I want it sorted today.", -0.6),
                                  ("It's still not there now.", -0.6))))
    assert early.passed is False and "cue" not in early.detail  # no cue in the last 3: sentiment decides
    # short verdicts inside the window count, and sign-offs do not push a verdict out of it
    short = only(r.score(customer(("My card was taken in a cafe.", -0.7), ("I'm stuck abroad with no money.", -0.8),
                                  ("So it's blocked and the new one comes Friday?", -0.6), ("Thank goodness.", -0.5),
                                  ("Thanks.", 0.3), ("Bye.", 0.0), ("Bye now.", 0.0))))
    assert short.passed is True and short.evidence == [3]
    with pytest.raises(RubricError, match="satisfied and/or dissatisfied"):
        rubric_file("- {id: o, kind: sentiment_trajectory, end_cues: {last_utterances: 2}}\n")
    with pytest.raises(RubricError, match="does not compile"):
        rubric_file("- {id: o, kind: sentiment_trajectory, end_cues: {satisfied: ['(relief']}}\n")


# --- requires, coaching, one-sided calls, plug-in kinds, determinism ---------------------------------------

def test_requires_makes_dependent_not_applicable(rubric_file: Any) -> None:
    r = rubric_file("""\
        - {id: confirm, kind: phrase, regex: 'to confirm', requires: [arrangement], weight: 5}
        - {id: arrangement, kind: phrase, regex: 'payment plan', weight: 10}
        """)
    no_plan = call([("agent", 0, 2, "Hello, to confirm your name?", lab())])
    confirm, arrangement = r.score(no_plan).criteria
    assert arrangement.passed is False and confirm.passed is None and "requires arrangement" in confirm.detail
    plan = call([("agent", 0, 2, "Let's set up a payment plan.", lab()),
                 ("agent", 2, 4, "So, to confirm, twenty pounds monthly.", lab())])
    confirm, arrangement = r.score(plan).criteria
    assert confirm.passed is True and arrangement.passed is True


def test_not_applicable_when_overrides_the_rule_and_cites_the_utterance(rubric_file: Any) -> None:
    """A prospect has no account to verify: the item is N/A (out of the maximum) even when the agent asked for a
    zip code, the customer's words are its evidence, and a rubric without the option keeps its version."""
    rule = """\
        - id: identity
          kind: phrase
          regex: 'zip code'
          window: {first_seconds: 240}
        - {id: greeting, kind: phrase, regex: hello}
        """
    na = """\
          not_applicable_when:
            speaker: customer
            regex: "not a customer"
        """
    plain, with_na = rubric_file(rule), rubric_file(rule.replace("\n        - {id: greeting", "\n" + na.rstrip()
                                                                 + "\n        - {id: greeting"))
    prospect = call([("agent", 0, 2, "Hello, Skyway, how can I help?", lab()),
                     ("customer", 2.5, 5, "I'm not a customer yet, what have you got?", lab()),
                     ("agent", 5.5, 7, "What's the zip code there?", lab(question="open"))])
    c = with_na.score(prospect).criteria[0]
    assert plain.score(prospect).criteria[0].passed is True
    assert (c.passed, c.max_score, c.evidence) == (None, 0.0, [1]) and "not_applicable_when" in c.detail
    assert with_na.score(prospect).score == 100.0  # the greeting alone decides the score
    customer = call([("agent", 0, 2, "Hello, what's the zip code on the account?", lab()),
                     ("customer", 2.5, 4, "It's four three two one five, I'm a customer of ten years.", lab())])
    assert with_na.score(customer).criteria[0].passed is True  # the rule as before when the situation is absent
    agent_says = call([("agent", 0, 2, "Hello, sorry, you're not a customer of ours?", lab())])
    assert with_na.score(agent_says).criteria[0].passed is False  # only the customer's words count
    assert plain.version == rubric_file(rule).version != with_na.version


def test_default_identity_is_not_applicable_to_a_prospect() -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    base = [("agent", 0, 3, "Good morning, Sunward Solar, this is Graham. How can I help?", lab()),
            ("customer", 3.5, 8, "Hi Graham. I'm thinking about joining your community solar scheme.", lab())]
    c = next(x for x in r.score(call([*base, ("agent", 8.5, 11, "What zip code are you in?", lab())])).criteria
             if x.id == "identity_verification")
    assert c.passed is None and c.evidence == [1]
    existing = [base[0], ("customer", 3.5, 8, "Hi, I'd like to add my son to my car insurance policy.", lab()),
                ("agent", 8.5, 11, "Of course. Can I take the policy number and your date of birth?", lab())]
    c = next(x for x in r.score(call(existing)).criteria if x.id == "identity_verification")
    assert c.passed is True


def test_coaching_ordered_by_points_lost(rubric_file: Any) -> None:
    r = rubric_file("""\
        - {id: small, kind: phrase, regex: zzz1, weight: 2, skill: a, fail_reason: "Small miss."}
        - {id: big, kind: phrase, regex: zzz2, weight: 20, skill: b}
        - {id: mid, kind: phrase, regex: zzz3, weight: 5, skill: a}
        - {id: unskilled, kind: phrase, regex: zzz4, weight: 1}
        - {id: ok, kind: phrase, regex: hello, weight: 3, skill: c}
        """, """\
        skills:
          a: {resources: [{title: A, url: "https://training.example.com/a"}]}
          b: {}
          c: {}
        """)
    out = r.score(call([("agent", 0, 2, "hello", lab())]))
    assert [(c.skill) for c in out.coaching] == ["b", "a", "unskilled"]  # 20 > 2+5 > 1; passed 'c' absent
    assert out.coaching[1].reason.startswith("Small miss.; Mid")
    assert out.coaching[1].resources == [{"title": "A", "url": "https://training.example.com/a"}]
    assert out.score == pytest.approx(100 * 3 / 31)


@pytest.mark.parametrize("rows", [
    [],
    [("agent", 0, 3, "Thank you for calling, my name is Sam.", lab())],
    [("customer", 0, 3, "Hello? Is anyone there? This is ridiculous.", lab("negative", -0.8, "anger"))],
])
def test_default_rubric_on_one_sided_calls(rows: list[Row]) -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    out = r.score(call(rows, duration=10.0))
    by_id = {c.id: c for c in out.criteria}
    assert 0.0 <= out.score <= 100.0
    assert by_id["empathy"].passed is None  # no trigger answered or unanswerable
    assert by_id["customer_outcome"].passed is None
    if not any(row[0] == "agent" for row in rows):
        assert all(by_id[k].passed is None for k in ("greeting", "closing", "professionalism", "questioning"))
        assert out.score == 0.0 and out.coaching == []
    else:
        assert by_id["greeting"].passed is True and by_id["questioning"].passed is False


def test_plugin_kind_without_engine_change(rubric_file: Any) -> None:
    class WordCountSpec(CriterionSpec):
        kind: Literal["agent_word_count"] = "agent_word_count"
        at_least: int

    @register_kind("agent_word_count")
    class AgentWordCount(CriterionKind):
        Spec: ClassVar[type[CriterionSpec]] = WordCountSpec

        def evaluate(self, view: CallView) -> Verdict:
            agent = view.by_speaker("agent")
            n = sum(u.word_count for u in agent)
            assert isinstance(self.spec, WordCountSpec)
            return Verdict.of(n >= self.spec.at_least, [u.index for u in agent], f"{n} words")

    r = rubric_file("- {id: talks, kind: agent_word_count, at_least: 3}\n")
    c = only(r.score(call([("agent", 0, 2, "one two three four", lab())])))
    assert c.passed is True and c.detail == "4 words"


FULL_CALL: list[Row] = [
    ("agent", 0.5, 4.0, "Thank you for calling Acme, my name is Sam, how can I help you today?", lab()),
    ("customer", 4.5, 9.0, "My internet has been down for three days and I'm really fed up.",
     lab("negative", -0.8, "anxiety")),
    ("agent", 9.5, 13.0, "I'm so sorry to hear that, that must be really frustrating.", lab(empathy=True)),
    ("agent", 13.2, 16.0, "Can I take your full name and date of birth please?", lab(question="closed")),
    ("customer", 16.5, 19.0, "John Smith, first of May 1980.", lab()),
    ("agent", 19.5, 23.0, "What have you tried so far to get it working?", lab(question="open")),
    ("customer", 23.5, 27.0, "I restarted the router twice.", lab()),
    ("agent", 27.5, 31.0, "How are the lights on the router looking at the moment?", lab(question="open")),
    ("customer", 31.5, 34.0, "The red one is flashing.", lab()),
    ("agent", 34.5, 40.0, "I've booked an engineer to visit on Monday morning to replace the line.", lab()),
    ("customer", 40.5, 42.0, "Great, thanks a lot.", lab("positive", 0.8, "joy")),
    ("agent", 42.5, 45.0, "Is there anything else I can help you with today?", lab(question="closed")),
    ("customer", 45.5, 46.5, "No, that's all.", lab()),
    ("agent", 47.0, 49.0, "Have a lovely day, goodbye.", lab("positive", 0.6)),
]


def test_default_rubric_full_call_and_contract() -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    out = r.score(call(FULL_CALL, duration=50.0))
    assert all(c.passed for c in out.criteria), [(c.id, c.detail) for c in out.criteria if not c.passed]
    assert out.score == 100.0 and not out.auto_failed
    schema = json.loads((PROJECT_ROOT / "qm" / "schema" / "call-result.schema.json").read_text())
    jsonschema.validate([c.to_contract() for c in out.criteria], schema["properties"]["criteria"])


def test_scoring_is_deterministic(isolated_data_dir: Path) -> None:
    inp = call(FULL_CALL[:9], duration=40.0)
    clear_memo()
    r = load_rubric("default", PROJECT_ROOT / "rubrics")  # trains into this test's empty data dir
    a = json.dumps([c.to_contract() for c in r.score(inp).criteria] + [repr(r.score(inp))])
    b = json.dumps([c.to_contract() for c in r.score(inp).criteria] + [repr(r.score(inp))])
    clear_memo()
    fresh = load_rubric("default", PROJECT_ROOT / "rubrics")  # now from the on-disk classifier cache
    assert fresh is not r
    c = json.dumps([c.to_contract() for c in fresh.score(inp).criteria] + [repr(fresh.score(inp))])
    assert a == b == c


@pytest.mark.parametrize(("criterion", "rows", "expected"), [
    # an introduction whose name the redactor replaced
    ("greeting", [("agent", 0.5, 3, "Morning, Rowan Pharmacy, this is [NAME] speaking.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "I'm [NAME].", lab())], True),
    # identity: Whisper writes "last 4 digits"; a booking's confirmation code; "you're all through security"
    ("identity_verification", [("agent", 2, 5, "And for verification, may I have the last 4 digits of the card?",
                                lab(question="closed"))], True),
    ("identity_verification", [("agent", 2, 5, "What's the confirmation code?", lab(question="closed"))], True),
    ("identity_verification", [("agent", 2, 5, "Perfect, you're all through security.", lab())], True),
    ("identity_verification", [("agent", 2, 5, "Can I take a number to call you back on?", lab())], False),
    # resolution: a written commitment, a crew on its way
    ("resolution", [("agent", 2, 5, "I'll email you the revised quote, it's valid for thirty days.", lab())], True),
    ("resolution", [("agent", 2, 5, "The crew will be on site within two hours.", lab())], True),
    # greeting needs an introduction: a bare greeting says nobody's name or company
    ("greeting", [("agent", 0.5, 3, "Hiya, yeah, what can I do for you?", lab())], False),
    ("greeting", [("agent", 0.5, 3, "Hi, thanks for calling, how can I help?", lab())], False),
    ("greeting", [("agent", 0.5, 3, "Hi, Homestyle Furniture, Chris here.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Morning! You've got Denise at Stonegate Home Lending.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Hiya, Swiftdrop customer service, I'm Kyle.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Oh, hello, I'm sorry, how can I help?", lab())], False),
    ("greeting", [("agent", 0.5, 3, "Hi, thanks for calling StreamBox support.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Hi, thanks for calling about your bill.", lab())], False),
    # what Whisper leaves of an introduction
    ("greeting", [("agent", 0.5, 3, "Good afternoon, seven-side water, your through to [NAME].", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Good morning, I'll be in mention my name [NAME].", lab())], True),
    ("greeting", [("agent", 0.5, 3, "He thanks for calling [NAME] fiber.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Hi, first harbor bank card services.", lab())], True),
    ("greeting", [("agent", 0.5, 3, "Hello, how can I help with your broadband?", lab())], False),
    ("greeting", [("agent", 0.5, 3, "Hi, your water bill, was it?", lab())], False),
    # identity: a zip code, a security PIN, a verdict; asking only for the name is not verification
    ("identity_verification", [("agent", 2, 5, "Member number and zip code?", lab(question="closed"))], True),
    ("identity_verification", [("agent", 2, 5, "For security purposes, please provide your account PIN.", lab())],
     True),
    ("identity_verification", [("agent", 2, 5, "Thank you. Your identity has been verified.", lab())], True),
    ("identity_verification", [("agent", 2, 5, "Confirmation number's H V four four one.", lab())], False),
    ("identity_verification", [("agent", 2, 5, "What's the name on the account?", lab(question="open"))], False),
    # resolution: reports and commitments in a word or two, or with a weekday
    ("resolution", [("agent", 2, 5, "Emailed now.", lab())], True),
    ("resolution", [("agent", 2, 5, "I'm sending you a bereavement pack today.", lab())], True),
    ("resolution", [("agent", 2, 5, "The first delivery will be Tuesday the fourteenth.", lab())], True),
    ("resolution", [("agent", 2, 5, "You'll get a text reminder the day before.", lab())], True),
    ("resolution", [("agent", 2, 5, "I'm not sending anything until you pay.", lab())], False),
    # professionalism: belittling, shutting down, blaming
    ("professionalism", [("agent", 2, 5, "Not to worry, lots of people your age find it confusing.", lab())], False),
    ("professionalism", [("agent", 2, 5, "No need to get worked up. I've cancelled it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Look, I'm not going to sit here and argue with you.", lab())], False),
    ("professionalism", [("agent", 2, 5, "If you'd restarted it, we probably wouldn't be here.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Well, the meter doesn't lie.", lab())], False),
    ("professionalism", [("agent", 2, 5, "So, planes don't wait for anyone, shocking as that may be.", lab())], False),
    ("professionalism", [("agent", 2, 5, "I'll keep the letter simple and send it today.", lab())], True),
    # session 12 (blind21/22): belittling praise, blame for not reading, stock sarcasm
    ("professionalism", [("agent", 2, 5, "See? Not so scary after all.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Do you think you can manage that?", lab())], False),
    ("professionalism", [("agent", 2, 5, "There we go. Well done you.", lab())], False),
    ("professionalism", [("agent", 2, 5, "It can be complicated for people of a certain age.", lab())], False),
    ("professionalism", [("agent", 2, 5, "People usually read the contract before they sign it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Not a lot we can do if people don't read it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "That's why you need to check your address first.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Of course you were.", lab())], False),
    ("professionalism", [("agent", 2, 5, "A supervisor's going to tell you the exact same thing.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Getting worked up at me won't change it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Of course you were charged once, that's the fee.", lab())], True),
    ("professionalism", [("agent", 2, 5, "Customers usually check the app for updates.", lab())], True),
    ("professionalism", [("agent", 2, 5, "You can manage that in the app, it's under settings.", lab())], True),
    ("resolution", [("agent", 2, 5, "It'll be ready after three, pick it up at the counter.", lab())], True),
    ("resolution", [("agent", 2, 5, "I'm opening a review today and we'll write to you.", lab())], True),
    ("resolution", [("agent", 2, 5, "I've added that to the note as well.", lab())], False),
    # session 13 (blind23/24): shrugging, know-it-all blame, stock sarcasm, talking down
    ("professionalism", [("agent", 2, 5, "Sir, you're not the only customer with a late parcel.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Everyone knows that, it's printed on the ticket.", lab())], False),
    ("professionalism", [("agent", 2, 5, "It'll show up or it won't, I can't say.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Refunds take as long as they take.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Honestly, you're overreacting.", lab())], False),
    ("professionalism", [("agent", 2, 5, "We help people who are actually in arrears first.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Oh, the classic. Ignore the letter, then ring. Works every time.", lab())],
     False),
    ("professionalism", [("agent", 2, 5, "Oh, of course, because the website never lies.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Right, I'll say it nice and slowly for you.", lab())], False),
    ("professionalism", [("agent", 2, 5, "You do know what a router is?", lab())], False),
    ("professionalism", [("agent", 2, 5, "There's no need to get yourself in a state.", lab())], False),
    ("professionalism", [("agent", 2, 5, "If you'd read the email properly you'd have seen it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "It's two clicks, most people manage it.", lab())], False),
    ("professionalism", [("agent", 2, 5, "That's our mistake, not yours, and I've refunded it.", lab())], True),
    ("professionalism", [("agent", 2, 5, "Everyone knows you here, you've been with us for years.", lab())], True),
    ("professionalism", [("agent", 2, 5, "I'll read the numbers back to you slowly.", lab())], True),
    # session 20: the customer's reply shows how a remark landed; stock brush-offs and sarcasm; a warm "your right"
    ("professionalism", [("agent", 2, 4, "Right. Well, we'll see what the engineer says.", lab()),
                         ("customer", 4.5, 5.5, "I don't appreciate the attitude.", lab())], False),
    ("professionalism", [("agent", 2, 4, "Right. Well, we'll see what the engineer says.", lab()),
                         ("customer", 4.5, 5.5, "Excuse me? I didn't catch that.", lab())], True),
    ("professionalism", [("agent", 2, 5, "Not really my department, sorry.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Good girl. Now press the green button.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Is he a good boy? Lovely, what's his name?", lab())], True),
    ("professionalism", [("agent", 2, 5, "Like I said, no extra charge. Do try to keep up.", lab())], False),
    ("professionalism", [("agent", 2, 5, "Did you actually read the terms when you signed?", lab())], False),
    ("professionalism", [("agent", 2, 5, "That's your right.", lab())], False),
    ("professionalism", [("agent", 2, 5, "That's completely your right, and I'm sorry I can't do more today.", lab())],
     True),
    ("identity_verification", [("agent", 2, 5, "Name, and the last four of your social.", lab())], True),
    ("identity_verification", [("agent", 2, 5, "What's the loan number?", lab())], True),
    ("identity_verification", [("agent", 2, 5, "And your national insurance number.", lab())], True),
])
def test_default_rubric_cues(criterion: str, rows: list[Row], expected: bool) -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    rows = [*rows, ("customer", 6, 8, "Okay.", lab())]
    c = {c.id: c for c in r.score(call(rows, duration=10.0)).criteria}[criterion]
    assert c.passed is expected, c.detail


def test_default_rubric_hears_a_bereavement_said_calmly() -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    rows: list[Row] = [
        ("agent", 0.5, 3, "Thanks for calling, this is Sam.", lab()),
        ("customer", 3.5, 7, "Our dog had to be put to sleep on Saturday.", lab()),  # neutral to the head
        ("agent", 7.5, 10, "Oh, I'm so sorry for your loss.", lab(empathy=True)),
    ]
    assert {c.id: c for c in r.score(call(rows, duration=12.0)).criteria}["empathy"].passed is True
    silent = [*rows[:2], ("agent", 7.5, 10, "Can I take the policy number?", lab(question="closed"))]
    assert {c.id: c for c in r.score(call(silent, duration=12.0)).criteria}["empathy"].passed is False


@pytest.mark.parametrize(("said", "upset"), [
    ("I've got twelve pounds left and I'm really scared I won't be able to pay for food.", True),  # "not" after
    ("I'm not upset, I just want it fixed.", False),
    ("So it was on battery when it died.", False),  # a laptop dying is no bereavement
    ("My dad died in March and the bill is still in his name.", True),
    ("A bit fed up, to be honest.", True),  # Whisper dropped the "I'm"
    ("It's really annoying, to be honest, I was late for a job interview.", True),
    ("Our dog, Bramble, died on Tuesday. It's still quite raw.", True),
    ("My phone died halfway through the call.", False),
])
def test_default_rubric_explicit_upset_cues(said: str, upset: bool) -> None:
    r = load_rubric("default", PROJECT_ROOT / "rubrics")
    rows: list[Row] = [
        ("agent", 0.5, 3, "Thanks for calling, this is Sam.", lab()),
        ("customer", 3.5, 7, said, lab()),  # neutral to the head: only an explicit cue makes it a trigger
        ("agent", 7.5, 10, "Can I take the account number?", lab(question="closed")),
    ]
    empathy = {c.id: c for c in r.score(call(rows, duration=12.0)).criteria}["empathy"]
    assert empathy.passed is (False if upset else None), empathy.detail


def test_clauses_of_a_run_on_utterance_are_judged_when_asked(rubric_file: Any) -> None:
    """Whisper runs sentences together; the next step is one clause of a long utterance, and one vector
    for the whole run-on dilutes it. ``clauses: true`` judges the clauses too, and says which one matched."""
    spec = """\
        - id: next_step
          kind: custom_behaviour
          window: {last_utterances: 3}
          threshold: 0.5
          min_similarity: 0.3
          positive: ["The replacement has been ordered and will arrive by Friday.",
                     "I'll call you back tomorrow morning once I've heard from the warehouse.",
                     "Your claim is registered, an assessor will contact you within two working days.",
                     "A new bill will be sent out to you by post this week."]
          negative: ["There's nothing I can do about that.", "Let me just check that for you.",
                     "I can't give you a date for that.", "Can I take your account number please?"]
        """
    run_on = call([("customer", 0, 2, "So what happens now?", lab()),
                   ("agent", 2, 12, "You will come down to 87, 140, and canceled Niole wheel, and corrected one "
                                    "will come by mail within two working days.", lab())])
    whole = only(rubric_file(spec).score(run_on))
    assert whole.passed is False, whole.detail
    split = only(rubric_file(spec.rstrip() + "\n          clauses: true\n").score(run_on))
    assert split.passed is True and split.evidence == [1], split.detail
    assert "on the clause 'and corrected one will come by mail within two working days.'" in split.detail
    # short utterances are judged whole only: nothing to split
    short = call([("agent", 0, 2, "Okay, is there anything else?", lab())])
    assert only(rubric_file(spec.rstrip() + "\n          clauses: true\n").score(short)).passed is False


def test_phrase_clauses_of_a_run_on_utterance_are_judged_when_asked(rubric_file: Any) -> None:
    """The phrase kind takes ``clauses: true`` too: Whisper wrote a vet's sympathy and the appointment as one
    sentence, and the appointment only matches on its own."""
    spec = """\
        - id: next_step
          kind: phrase
          threshold: 0.6
          examples: ["I've booked you an appointment for eleven forty this morning.",
                     "An engineer will come out on Thursday between eight and twelve."]
        """
    said = ("I can hear how worried you are, and you've done exactly the right thing ringing us, with the "
            "vomiting and a sore tummy, the vet will want to see him, I've got an appointment at 11.40 for you.")
    run_on = call([("customer", 0, 2, "He's been sick twice.", lab()), ("agent", 2, 12, said, lab())])
    whole = only(rubric_file(spec).score(run_on))
    assert whole.passed is False, whole.detail
    split = only(rubric_file(spec.rstrip() + "\n          clauses: true\n").score(run_on))
    assert split.passed is True and split.evidence == [1], split.detail
    assert "on the clause \"I've got an appointment at 11.40 for you.\"" in split.detail
    assert "clauses of long utterances too" in rubric_file(spec.rstrip() + "\n          clauses: true\n") \
        .kinds[0].summary()


def test_phrase_clauses_need_examples(rubric_file: Any) -> None:
    with pytest.raises(RubricError, match="clauses only apply to a meaning match"):
        rubric_file("""\
            - id: bye
              kind: phrase
              regex: ['\\bbye\\b']
              clauses: true
            """)


def test_clause_split_points() -> None:
    from qm.rubric.examples import clauses

    assert clauses("my car just got declined twice There's a line of people behind me, and my ride leaves "
                   "in like ten minutes") == ["my car just got declined twice",
                                              "There's a line of people behind me,",
                                              "and my ride leaves in like ten minutes"]
    assert clauses("Okay, fine.") == []
    # a reason cut off from what it explains is not judged alone (it sat near blame remarks)
    assert clauses("I'd always keep a copy of the export, because this comes up a lot, and it saves you time later") \
        == ["I'd always keep a copy of the export,", "and it saves you time later"]
    assert clauses("It can't be moved this week, so most people steer clear of it, and I'm sorry about that") == \
        ["It can't be moved this week,", "and I'm sorry about that"]
