"""Every kind of broken rubric is refused with the file, the line, the field and a hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qm.config import PROJECT_ROOT
from qm.rubric import RubricError, load_rubric

GOOD_CRITERION = """\
  - id: greeting
    kind: phrase
    weight: 5
    regex: 'hello'
"""


def write(tmp_path: Path, body: str, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def refuse(path: Path) -> RubricError:
    with pytest.raises(RubricError) as info:
        load_rubric(path, prepare=False)
    err = info.value
    assert err.path == str(path)
    assert str(path) in str(err)
    return err


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_shipped_rubrics_are_valid() -> None:
    names = sorted(p.stem for p in (PROJECT_ROOT / "rubrics").glob("*.yaml"))
    assert {"default", "sales", "collections"} <= set(names)
    ids = {c.id for c in load_rubric("default", PROJECT_ROOT / "rubrics", prepare=False).criteria}
    assert {"greeting", "identity_verification", "empathy", "questioning", "active_listening",
            "resolution", "professionalism", "closing"} <= ids
    for name in names:
        r = load_rubric(name, PROJECT_ROOT / "rubrics", prepare=False)
        assert len(r.version) == 12 and r.criteria


def test_unknown_kind_lists_known_kinds(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            weight: 1
            kind: sentiment_magic
        """)
    err = refuse(p)
    assert err.line == line_of(p, "sentiment_magic")
    assert err.field == "criteria[0].kind"
    assert "unknown criterion kind 'sentiment_magic'" in err.reason
    for kind in ("label_count", "label_ratio", "conditional", "phrase", "custom_behaviour", "metric",
                 "sentiment_trajectory"):
        assert kind in err.hint


def test_weight_that_does_not_parse(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            kind: phrase
            regex: hi
            weight: ten points
        """)
    err = refuse(p)
    assert (err.line, err.field) == (line_of(p, "weight"), "criteria[0].weight")
    assert "'ten points'" in err.reason and "number" in err.hint


def test_negative_weight(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - {id: a, kind: phrase, regex: hi, weight: -3}
        """)
    err = refuse(p)
    assert err.field == "criteria[0].weight" and err.line == 3 and "greater than or equal to 0" in err.reason


def test_unknown_emotion_label(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: empathy
            kind: conditional
            trigger:
              - {sentiment: negative}
              - {emotion: [anger, anxeity]}
            response: {empathy: true}
            within_turns: 2
        """)
    err = refuse(p)
    assert err.line == line_of(p, "anxeity")
    assert err.field == "criteria[0].trigger[1].emotion"
    assert "unknown emotion label 'anxeity'" in err.reason and "anxiety" in err.reason


def test_unknown_question_label(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: q
            kind: label_count
            where:
              question: opne
            at_least: 2
        """)
    err = refuse(p)
    assert (err.line, err.field) == (line_of(p, "opne"), "criteria[0].where.question[0]")
    assert "'open'" in err.reason and "opne" in err.reason


def test_regex_that_does_not_compile(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: disclosure
            kind: phrase
            examples: ["This call is recorded."]
            regex: '(call|conversation is recorded'
        """)
    err = refuse(p)
    assert (err.line, err.field) == (line_of(p, "regex"), "criteria[0].regex")
    assert "does not compile" in err.reason and "missing )" in err.reason
    assert "regular expression" in err.hint


def test_duplicate_ids_point_at_the_second(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\ncriteria:\n" + GOOD_CRITERION + GOOD_CRITERION)
    err = refuse(p)
    assert err.line == line_of(p, "id: greeting", 2)
    assert err.field == "criteria[1].id"
    assert f"first used on line {line_of(p, 'id: greeting')}" in err.reason


def test_zero_total_weight(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - {id: a, kind: phrase, regex: hi, weight: 0}
          - {id: b, kind: phrase, regex: bye, weight: 0}
        """)
    err = refuse(p)
    assert (err.line, err.field) == (2, "criteria") and "total weight is zero" in err.reason


def test_unknown_requires_reference(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            kind: phrase
            regex: hi
            requires: [payment_plan]
        """)
    err = refuse(p)
    assert (err.line, err.field) == (line_of(p, "payment_plan"), "criteria[0].requires[0]")
    assert "unknown criterion 'payment_plan'" in err.reason and "a" in err.hint


def test_cyclic_requires(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - {id: a, kind: phrase, regex: x, requires: [c]}
          - {id: b, kind: phrase, regex: y, requires: [a]}
          - {id: c, kind: phrase, regex: z, requires: [b]}
        """)
    err = refuse(p)
    assert err.line == 3 and err.field == "criteria[0].requires"
    assert "cyclic requires: a → c → b → a" in err.reason


def test_references_outside_requires_are_checked(tmp_path: Path) -> None:
    base = ("name: t\ncriteria:\n  - {id: e, kind: conditional, trigger: {sentiment: negative}, "
            "response: {empathy: true}, within_turns: 2, response_not_flagged_by: %s}\n"
            "  - {id: p, kind: phrase, mode: forbidden, regex: x, requires: %s}\n")
    err = refuse(write(tmp_path, base % ("[profesionalism]", "[]")))
    assert (err.line, err.field) == (3, "criteria[0].response_not_flagged_by[0]")
    assert "unknown criterion 'profesionalism' in response_not_flagged_by" in err.reason and "p" in err.hint
    err = refuse(write(tmp_path, base % ("[e]", "[]")))
    assert "cannot refer to itself" in err.reason
    err = refuse(write(tmp_path, base % ("[p]", "[e]")))  # p requires e, e reads p: no order exists
    assert "cyclic references between criteria: " in err.reason
    assert load_rubric(write(tmp_path, base % ("p", "[]"))).criteria[0].references() == [
        (("response_not_flagged_by", 0), "p")]


def test_self_requirement(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\ncriteria:\n  - {id: a, kind: phrase, regex: x, requires: a}\n")
    err = refuse(p)
    assert err.line == 3 and "cannot require itself" in err.reason


def test_unknown_skill(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        skills:
          empathy: {resources: [{title: Course, url: "https://training.example.com/e"}]}
        criteria:
          - {id: a, kind: phrase, regex: x, skill: empaty}
        """)
    err = refuse(p)
    assert (err.line, err.field) == (5, "criteria[0].skill") and "unknown skill 'empaty'" in err.reason
    assert "empathy" in err.hint


def test_bad_resource_url(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        skills:
          empathy:
            resources:
              - title: Course
                url: not a link
        criteria:
          - {id: a, kind: phrase, regex: x, skill: empathy}
        """)
    err = refuse(p)
    assert (err.line, err.field) == (6, "skills.empathy.resources[0].url") and "http" in err.hint


def test_misspelt_field_lists_allowed_fields(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            kind: phrase
            regex: x
            treshold: 0.7
        """)
    err = refuse(p)
    assert (err.line, err.field) == (6, "criteria[0].treshold") and "unknown field 'treshold'" in err.reason
    assert "threshold" in err.hint and "examples" in err.hint


def test_missing_required_field(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: q
            kind: label_count
            at_least: 2
        """)
    err = refuse(p)
    assert (err.line, err.field) == (3, "criteria[0].where") and "missing" in err.reason


def test_missing_kind(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\ncriteria:\n  - id: a\n    weight: 1\n")
    err = refuse(p)
    assert (err.line, err.field) == (3, "criteria[0].kind") and "phrase" in err.hint


def test_file_over_one_mebibyte(tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    p.write_text("name: t\ncriteria:\n" + GOOD_CRITERION + "# " + "x" * (1024 * 1024) + "\n")
    err = refuse(p)
    assert "over the 1 MiB limit" in err.reason


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = ["name: t", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for level in "bcdefghi":
        bomb.append(f"{level}: &{level} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = level
    p = write(tmp_path, "\n".join(bomb) + "\ncriteria:\n" + GOOD_CRITERION)
    err = refuse(p)
    assert err.line == 3 and "alias '*a' is not allowed" in err.reason and "bomb" in err.hint


def test_merge_key_alias_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        base: &base {kind: phrase, weight: 5}
        criteria:
          - <<: *base
            id: a
            regex: x
        """)
    err = refuse(p)
    assert err.line == 4 and "alias" in err.reason


def test_non_utf8_bytes(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"name: t\ncriteria:\n  - id: a\n    kind: phrase\n    regex: 'caf\xe9'\n")
    err = refuse(p)
    assert err.line == 5 and "not valid UTF-8" in err.reason and "0xe9" in err.reason


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            kind: phrase
            regex: x
            weight: 5
            weight: 50
        """)
    err = refuse(p)
    assert err.line == 7 and "duplicate key 'weight' (first defined on line 6)" in err.reason


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = write(tmp_path, "name: t\ncriteria:\n  - id: a\n    kind: phrase\n   regex: [unclosed\n")
    err = refuse(p)
    assert err.line is not None and 4 <= err.line <= 6 and "YAML syntax error" in err.reason


def test_deep_nesting_is_refused_cleanly(tmp_path: Path) -> None:
    p = tmp_path / "deep.yaml"
    p.write_text("name: t\nx: " + "[" * 50000 + "]" * 50000 + "\ncriteria: []\n")
    err = refuse(p)
    assert "too deep" in err.reason or "YAML" in err.reason


@pytest.mark.parametrize("body,reason", [
    ("", "empty"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("name: t\ncriteria: []\n", "at least 1 item"),
    ("name: t\ncriteria:\n  - just a string\n", "must be a mapping"),
    ("name: t\nnmae: x\ncriteria:\n" + GOOD_CRITERION, "unknown field 'nmae'"),
])
def test_structural_errors(tmp_path: Path, body: str, reason: str) -> None:
    err = refuse(write(tmp_path, body))
    assert reason in err.reason


def test_missing_file_and_bad_name(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match="file not found"):
        load_rubric("nosuch", tmp_path, prepare=False)
    with pytest.raises(RubricError, match="not a valid rubric name"):
        load_rubric("..", tmp_path, prepare=False)


def test_kind_specific_rules(tmp_path: Path) -> None:
    cases = {
        "{id: a, kind: phrase}": "give examples",
        "{id: a, kind: label_count, where: {question: open}}": "give at_least and/or at_most",
        "{id: a, kind: label_ratio, numerator: {question: open}, at_least: 1.5}": "less than or equal to 1",
        "{id: a, kind: conditional, trigger: {sentiment: negative}, response: {empathy: true}}": "within_",
        "{id: a, kind: metric, metric: talk_time, at_most: 1}": "agent_talk_ratio",
        "{id: a, kind: metric, metric: interruptions, at_least: 3, at_most: 1}": "greater than at_most",
        "{id: a, kind: phrase, regex: x, window: {first_seconds: 5, last_utterances: 2}}": "only one window",
        ("{id: a, kind: custom_behaviour, positive: [p1, p2, p3], negative: [n1, P1, n3]}"):
            "both positive and negative",
        "{id: a, kind: sentiment_trajectory, require: happier}": "not_worse",
        "{id: a, kind: phrase, regex: x, counter_examples: [Fine.]}": "give examples too",
        "{id: a, kind: phrase, examples: [Rude., Mean.], counter_examples: [rude.]}": "both positive and negative",
    }
    for criterion, reason in cases.items():
        p = write(tmp_path, f"name: t\ncriteria:\n  - {criterion}\n")
        err = refuse(p)
        assert err.line == 3, criterion
        assert reason in str(err), (criterion, str(err))


def test_all_problems_are_reported(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - {id: a, kind: phrase, regex: x, weight: lots}
          - {id: b, kind: nonsense}
        """)
    err = refuse(p)
    assert [i.line for i in err.issues] == [3, 4]


def test_version_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    a = write(tmp_path, "name: t\ncriteria:\n  - {id: a, kind: phrase, regex: x, weight: 5}\n", "a.yaml")
    b = write(tmp_path, "# comment\nid: a\nname: t\ncriteria:\n  - id: a\n    regex: 'x'\n    kind: phrase\n"
                        "    weight: 5.0\n", "b.yaml")
    c = write(tmp_path, "id: a\nname: t\ncriteria:\n  - {id: a, kind: phrase, regex: x, weight: 6}\n", "c.yaml")
    va, vb, vc = (load_rubric(x, prepare=False).version for x in (a, b, c))
    assert va == vb != vc


# ---- examples_file: labelled sentences kept beside the rubric ------------------------------------------

EXAMPLES_RUBRIC = """\
    name: t
    criteria:
      - id: blame
        kind: phrase
        mode: forbidden
        examples: ["That's your fault, not mine."]
        examples_file: {name}
"""


def with_examples(tmp_path: Path, body: str, name: str = "examples/blame.yaml") -> tuple[Path, Path]:
    ex = tmp_path / name
    ex.parent.mkdir(parents=True, exist_ok=True)
    ex.write_text(textwrap.dedent(body))
    return write(tmp_path, EXAMPLES_RUBRIC.format(name=name)), ex


def test_examples_file_is_merged_and_versioned(tmp_path: Path) -> None:
    rubric, ex = with_examples(tmp_path, """\
        examples: ["You should have read the terms."]
        counter_examples: ["The mistake was ours.", "Let me check that for you."]
        """)
    r = load_rubric(rubric, prepare=False)
    spec = r.criteria[0]
    assert spec.examples == ["That's your fault, not mine.", "You should have read the terms."]
    assert spec.counter_examples == ["The mistake was ours.", "Let me check that for you."]
    assert "from examples/blame.yaml" in r.kinds[0].summary()
    before = r.version
    ex.write_text(ex.read_text().replace("read the terms", "read the small print"))
    # the rubric file did not change, but what it scores with did: a new version
    assert load_rubric(rubric, prepare=False).version != before


def test_prepared_rubric_is_reloaded_when_its_examples_file_changes(tmp_path: Path) -> None:
    rubric, ex = with_examples(tmp_path, 'examples: ["You should have read the terms."]\n')
    first = load_rubric(rubric)
    assert load_rubric(rubric) is first  # memoised while nothing changed
    ex.write_text('examples: ["You should have read the terms.", "Not my department, mate."]\n')
    again = load_rubric(rubric)
    assert again is not first and len(again.criteria[0].examples) == 3


@pytest.mark.parametrize(("name", "reason"), [
    ("missing.yaml", "examples file 'missing.yaml' not found"),
    ("../outside.yaml", "must be a relative .yaml path inside the rubric's folder"),
    ("/etc/passwd", "must be a relative .yaml path inside the rubric's folder"),
    ("examples.txt", "must be a relative .yaml path inside the rubric's folder"),
])
def test_examples_file_path_errors_name_the_rubric_line(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "examples.txt").write_text("x\n")
    p = write(tmp_path, EXAMPLES_RUBRIC.format(name=name))
    err = refuse(p)
    assert reason in err.reason
    assert err.line == line_of(p, "examples_file") and err.field == "criteria[0].examples_file"


@pytest.mark.parametrize(("body", "needle", "reason"), [
    ('examples: ["ok sentence"]\nnegatives: ["x"]\n', "negatives", "unknown key 'negatives'"),
    ('examples:\n  - "ok sentence"\n  - "  "\n', '"  "', "expected a list of non-empty sentences"),
    ('counter_examples: "one sentence"\n', "counter_examples", "expected a list of non-empty sentences"),
])
def test_problems_inside_the_examples_file_name_that_file_and_line(tmp_path: Path, body: str, needle: str,
                                                                   reason: str) -> None:
    rubric, ex = with_examples(tmp_path, body)
    with pytest.raises(RubricError) as info:
        load_rubric(rubric, prepare=False)
    err = info.value
    assert err.path == str(ex) and reason in err.reason
    assert err.line == line_of(ex, needle)


def test_examples_file_with_bad_bytes_names_that_file(tmp_path: Path) -> None:
    rubric, ex = with_examples(tmp_path, "examples: []\n")
    ex.write_bytes(b'examples: ["caf\xe9 sentence"]\n')
    with pytest.raises(RubricError) as info:
        load_rubric(rubric, prepare=False)
    assert info.value.path == str(ex) and "not valid UTF-8" in info.value.reason


NESTED_RUBRIC = """\
    name: t
    criteria:
      - id: empathy
        kind: conditional
        trigger_speaker: customer
        trigger: {{sentiment: negative}}
        trigger_examples:
          positive: ["I'm really upset about this."]
          negative: ["My internet is down."]
          examples_file: {name}
        response: {{empathy: true}}
        within_turns: 2
"""


def test_an_example_set_reads_an_examples_file_too(tmp_path: Path) -> None:
    """A conditional's trigger examples can come from a file: its examples are positives, its
    counter-examples negatives; the file is part of the version, and its errors name it."""
    ex = tmp_path / "examples" / "upset.yaml"
    ex.parent.mkdir()
    ex.write_text('examples: ["This is ridiculous.", "I\'m so worried."]\n'
                  'counter_examples: ["I need to cancel.", "I was charged twice."]\n')
    rubric = write(tmp_path, NESTED_RUBRIC.format(name="examples/upset.yaml"))
    r = load_rubric(rubric, prepare=False)
    trig = r.criteria[0].trigger_examples
    assert trig.positive == ["I'm really upset about this.", "This is ridiculous.", "I'm so worried."]
    assert trig.negative == ["My internet is down.", "I need to cancel.", "I was charged twice."]
    before = r.version
    ex.write_text(ex.read_text().replace("ridiculous", "a joke"))
    assert load_rubric(rubric, prepare=False).version != before
    ex.write_text('examples: ["fine"]\nnegatives: ["x"]\n')
    with pytest.raises(RubricError) as info:
        load_rubric(rubric, prepare=False)
    assert info.value.path == str(ex) and "unknown key 'negatives'" in info.value.reason
    p = write(tmp_path, NESTED_RUBRIC.format(name="../x.yaml"), "bad.yaml")
    err = refuse(p)
    assert err.field == "criteria[0].trigger_examples.examples_file" and err.line == line_of(p, "examples_file")


def test_example_set_options_added_later_do_not_re_version_a_rubric(tmp_path: Path) -> None:
    """e3daa1accc08 is this rubric's version before example sets had examples_file, counter_margin and
    encoder; stating their defaults keeps it, using one changes it."""
    body = """\
        name: pinned
        criteria:
          - id: empathy
            kind: conditional
            weight: 5
            trigger_speaker: customer
            trigger: {sentiment: negative}
            trigger_examples:
              positive: ["I'm really upset about this.", "This is ridiculous.", "I'm so worried."]
              negative: ["My internet is down.", "I need to cancel.", "I was charged twice."]
            response_speaker: agent
            response: {empathy: true}
            within_turns: 2
        """

    def version(text: str, folder: str) -> str:
        (tmp_path / folder).mkdir()
        return load_rubric(write(tmp_path / folder, text, "pin.yaml"), prepare=False).version

    plain = version(body, "a")
    assert plain == "e3daa1accc08"
    pad = " " * 14
    anchor = 'negative: ["My internet is down.", "I need to cancel.", "I was charged twice."]\n'
    explicit = body.replace(anchor, f"{anchor}{pad}counter_margin: 0\n{pad}encoder: similarity\n")
    assert version(explicit, "b") == plain
    assert version(body.replace(anchor, f"{anchor}{pad}encoder: labeller\n"), "c") != plain


@pytest.mark.parametrize("criterion", ["professionalism", "resolution", "identity_verification", "upset",
                                       "acknowledgement"])
def test_default_examples_files_are_what_the_bench_calls_give(criterion: str) -> None:
    """rubrics/examples/*.yaml are generated; a hand edit or a relabelled call must be rebuilt."""
    from bench.make_rubric_examples import SOURCES, build, render

    source = SOURCES[criterion]
    assert source.out.read_text(encoding="utf-8") == render(source, build(source)), \
        f"rebuild it: .venv/bin/python -m bench.make_rubric_examples --criterion {criterion}"


def test_options_added_later_do_not_re_version_a_rubric_that_does_not_use_them(tmp_path: Path) -> None:
    """Stored results carry the rubric version: upgrading qm must not make an unchanged rubric a new one.
    (dd76d3baf6c5 is this rubric's version before counter_margin, examples_file and encoder existed.)"""
    body = """\
        name: pinned
        criteria:
          - id: greeting
            kind: phrase
            weight: 5
            examples: ["Thank you for calling, my name is Sam."]
            counter_examples: ["Thanks for holding."]
            regex: ['\\bwelcome to\\b']
        """

    def version(text: str, folder: str) -> str:  # same file name: a rubric without an id is named by it
        (tmp_path / folder).mkdir()
        return load_rubric(write(tmp_path / folder, text, "pin.yaml"), prepare=False).version

    plain = version(body, "a")
    assert plain == "dd76d3baf6c5"
    pad = " " * 12
    explicit = body.replace("weight: 5\n", f"weight: 5\n{pad}counter_margin: 0\n{pad}encoder: similarity\n")
    assert version(explicit, "b") == plain
    used = body.replace("weight: 5\n", f"weight: 5\n{pad}counter_margin: 0.1\n")
    assert version(used, "c") != plain



def test_not_applicable_when_is_validated(tmp_path: Path) -> None:
    p = write(tmp_path, """\
        name: t
        criteria:
          - id: a
            kind: phrase
            regex: hello
            not_applicable_when:
              speaker: customer
              regex: '(not a customer'
        """)
    err = refuse(p)
    assert err.line == 8 and "not_applicable_when.regex" in err.field and "does not compile" in err.reason
    p = write(tmp_path, """\
        name: t
        criteria:
          - {id: a, kind: phrase, regex: hello, not_applicable_when: {speaker: caller, regex: x}}
        """)
    assert "not_applicable_when.speaker" in refuse(p).field
