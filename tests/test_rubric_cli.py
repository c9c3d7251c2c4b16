"""``qm rubric`` commands, ``explain`` rendering and calibration against human reviewers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from qm.config import PROJECT_ROOT, get_settings
from qm.metrics import compute_metrics
from qm.rubric import Rubric, ScoringInput, load_rubric
from qm.rubric.calibrate import CalibrationError, calibrate, cohen_kappa, format_report
from qm.rubric.cli import rubric_app
from qm.rubric.explain import explain
from qm.types import AudioInfo, CallResult, Empathy, Sentiment, Utterance, UtteranceLabels

RUBRIC = """\
name: explain test
skills:
  questioning: {resources: [{title: Questions 101, url: "https://training.example.com/q"}]}
criteria:
  - {id: questioning, kind: label_count, where: {question: open}, at_least: 2, skill: questioning, weight: 10}
  - id: empathy
    kind: conditional
    trigger: {sentiment: negative}
    response: {empathy: true}
    within_turns: 1
    weight: 10
  - {id: listening, kind: metric, metric: interruptions, at_most: 0, weight: 5}
"""


def utt(i: int, speaker: str, start: float, text: str, *, question: str | None = None,
        sentiment: str = "neutral", empathy: bool = False, turn: int | None = None) -> Utterance:
    score = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sentiment]
    labels = UtteranceLabels(Sentiment(sentiment, score), None, Empathy(empathy, 0.5), question)  # type: ignore[arg-type]
    return Utterance(i, speaker, start, start + 2, text, i if turn is None else turn, len(text.split()), labels)  # type: ignore[arg-type]


@pytest.fixture()
def rubric(tmp_path: Path) -> Rubric:
    p = tmp_path / "explain_test.yaml"
    p.write_text(RUBRIC)
    return load_rubric(p)


def scored(rubric: Rubric, call_id: str = "call-1") -> CallResult:
    utts = [utt(0, "agent", 0, "What seems to be the problem?", question="open"),
            utt(1, "customer", 3, "My order is late and I'm annoyed.", sentiment="negative"),
            utt(2, "agent", 6, "Could you give me the order number?", question="closed")]
    inp = ScoringInput(utts, [], compute_metrics([], utts, 10.0), 10.0)
    out = rubric.score(inp)
    audio = AudioInfo("x.wav", 10.0, 2, 8000, "a" * 64, "pcm", "wav")
    return CallResult(call_id, "agent-7", audio, "tiny.en", "en", utts, inp.metrics, rubric.id, rubric.version,
                      out.criteria, out.score, out.auto_failed, out.coaching, 0)


def test_explain_names_the_deciding_utterances(rubric: Rubric) -> None:
    doc = scored(rubric).to_contract()
    text = explain(doc, rubric)
    assert "Call call-1" in text and f"version {rubric.version}" in text
    q = text.index("(questioning)")
    e = text.index("(empathy)")
    listening = text.index("(listening)")
    assert '"What seems to be the problem?"' in text[q:e]           # the one open question found
    assert "why: 1 agent utterance(s) with question=open; needed at least 2" in text[q:e]  # the verdict's reason
    assert "[FAIL]" in text[text.rfind("\n", 0, q):q]
    assert '#1 customer 00:03.0 "My order is late' in text[e:listening]  # the unanswered trigger
    assert "not applicable" in text[listening:]                     # no words: no interruptions measurable
    assert "Questions 101: https://training.example.com/q" in text
    assert "note:" not in text

    doc["rubric"]["version"] = "000000000000"
    assert "differs from the one used to score" in explain(doc, rubric)


def test_explain_survives_missing_utterances(rubric: Rubric) -> None:
    doc = scored(rubric).to_contract()
    doc["utterances"] = []
    assert "#0 (utterance not in the stored result)" in explain(doc, rubric)


@pytest.fixture()
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'qm.db'}"
    monkeypatch.setenv("QM_DATABASE_URL", url)
    monkeypatch.setenv("QM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_cli_explain_reads_the_store(rubric: Rubric, isolated_store: str, tmp_path: Path) -> None:
    from qm.store import open_store

    open_store().save(scored(rubric, "stored-1"), layout="stereo", source_uri="x.wav", transcript_tokens=[],
                      nlp_version="test")
    runner = CliRunner()
    res = runner.invoke(rubric_app, ["explain", "stored-1", "--rubrics-dir", str(rubric.path.parent)])
    assert res.exit_code == 0, res.output
    assert "(questioning)" in res.output and "What seems to be the problem?" in res.output
    res = runner.invoke(rubric_app, ["explain", "nope", "--rubrics-dir", str(rubric.path.parent)])
    assert res.exit_code == 1 and "no stored result" in res.output


def test_cli_validate_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(rubric_app, ["validate", "--rubrics-dir", str(PROJECT_ROOT / "rubrics")])
    assert res.exit_code == 0, res.output
    assert res.output.count("✓") == len(list((PROJECT_ROOT / "rubrics").glob("*.yaml")))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncriteria:\n  - {id: a, kind: phrase, regex: '(x'}\n")
    res = runner.invoke(rubric_app, ["validate", str(bad), str(PROJECT_ROOT / "rubrics" / "default.yaml")])
    assert res.exit_code == 1
    assert f"{bad}:3: criteria[0].regex" in res.output and "✓" in res.output
    res = runner.invoke(rubric_app, ["show", "collections", "--rubrics-dir", str(PROJECT_ROOT / "rubrics")])
    assert res.exit_code == 0 and "mini_miranda" in res.output and "AUTO-FAIL" in res.output
    assert runner.invoke(rubric_app, ["show", "missing", "--rubrics-dir", str(tmp_path)]).exit_code == 1


# --- calibration ---------------------------------------------------------------------------------------------

def result(score: float, **verdicts: bool | None) -> dict[str, Any]:
    return {"score": score, "criteria": [{"id": k, "passed": v} for k, v in verdicts.items()]}


def test_calibration_figures(tmp_path: Path) -> None:
    results = {"c1": result(90, greeting=True, empathy=None), "c2": result(70, greeting=True, empathy=True),
               "c3": result(40, greeting=False, empathy=False), "c4": result(20, greeting=False, empathy=None)}
    csv = tmp_path / "human.csv"
    csv.write_text("call_id,criterion_id,passed,score\n"
                   "c1,greeting,yes,85\nc2,greeting,no,75\nc3,greeting,0,50\nc4,greeting,false,10\n"
                   "c1,empathy,na,85\nc2,empathy,1,75\nc3,empathy,1,50\nc4,empathy,n/a,10\n"
                   "c9,greeting,1,99\nc1,closing,1,85\n")
    rep = calibrate(csv, results)
    g = next(a for a in rep.criteria if a.criterion_id == "greeting")
    # qm: P P F F, human: P F F F -> po 0.75, pe 0.5*0.25 + 0.5*0.75 = 0.5, kappa 0.5
    assert (g.n, g.agreement, g.kappa, g.qm_pass_human_fail) == (4, 0.75, pytest.approx(0.5), 1)
    e = next(a for a in rep.criteria if a.criterion_id == "empathy")
    assert e.agreement == 0.75 and e.qm_fail_human_pass == 1 and e.applicability_mismatch == 0
    assert rep.score_n == 4 and rep.spearman == pytest.approx(1.0)
    assert rep.pearson == pytest.approx(float(np.corrcoef([90, 70, 40, 20], [85, 75, 50, 10])[0, 1]))
    assert rep.missing_calls == ["c9"] and rep.unknown_criteria == ["closing"]
    text = format_report(rep)
    assert "greeting" in text and "75.0%" in text and "calls not in the store (1): c9" in text


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["pass"] * 3, ["pass"] * 3) is None  # undefined: one outcome only
    assert cohen_kappa(["pass", "fail"], ["fail", "pass"]) == pytest.approx(-1.0)
    assert math.isclose(cohen_kappa(["pass", "fail", "na"], ["pass", "fail", "na"]) or 0, 1.0)


@pytest.mark.parametrize("body,line,reason", [
    ("call,criterion,passed\nc1,g,1\n", 1, "missing column(s) call_id, criterion_id"),
    ("call_id,criterion_id,passed\nc1,g,1\nc2,g,maybe\n", 3, "passed='maybe'"),
    ("call_id,criterion_id,passed,score\nc1,g,1,high\n", 2, "score='high' is not a number"),
    ("call_id,criterion_id,passed\nc1,g,1\nc1,g,0\n", 3, "listed twice"),
])
def test_bad_reviewer_csv(tmp_path: Path, body: str, line: int, reason: str) -> None:
    csv = tmp_path / "h.csv"
    csv.write_text(body)
    with pytest.raises(CalibrationError) as info:
        calibrate(csv, {})
    assert info.value.line == line and reason in str(info.value) and str(csv) in str(info.value)
