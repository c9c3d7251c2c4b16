"""Calibration: how often qm's criterion verdicts agree with human reviewers.

A rubric is only trusted once its automatic verdicts match what QA reviewers
decide on the same calls, so this compares a reviewers' CSV with stored
results: per criterion raw agreement and Cohen's kappa (agreement beyond
chance) over the three outcomes pass / fail / not applicable, plus Pearson and
Spearman correlation of the overall call scores when the CSV has them.

CSV columns: ``call_id, criterion_id, passed`` and optionally ``score`` (or
``overall_score``), the reviewer's overall score for the call (0–100, repeated
on each row of the call).  ``passed`` takes 1/0, yes/no, true/false, pass/fail,
or na / n/a / empty-cell-free "-" for not applicable.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qm.errors import QMError

Outcome = str  # "pass" | "fail" | "na"
_VALUES = {
    "1": "pass", "yes": "pass", "y": "pass", "true": "pass", "pass": "pass", "passed": "pass",
    "0": "fail", "no": "fail", "n": "fail", "false": "fail", "fail": "fail", "failed": "fail",
    "na": "na", "n/a": "na", "-": "na", "none": "na", "null": "na", "not applicable": "na",
}


class CalibrationError(QMError):
    """A reviewers' CSV that cannot be read; names the file, line and reason."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class CriterionAgreement:
    criterion_id: str
    n: int
    agreement: float | None
    kappa: float | None  # None when undefined (both raters used one single outcome throughout)
    qm_pass_human_fail: int = 0
    qm_fail_human_pass: int = 0
    applicability_mismatch: int = 0


@dataclass(slots=True)
class CalibrationReport:
    criteria: list[CriterionAgreement]
    score_n: int = 0
    pearson: float | None = None
    spearman: float | None = None
    rows: int = 0
    missing_calls: list[str] = field(default_factory=list)
    unknown_criteria: list[str] = field(default_factory=list)


def cohen_kappa(a: list[Outcome], b: list[Outcome]) -> float | None:
    """Cohen's kappa of two equally long label lists; None when chance agreement is total."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    cats = sorted(set(a) | set(b))
    po = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    if math.isclose(pe, 1.0):
        return None
    return (po - pe) / (1 - pe)


def _correlations(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    from scipy.stats import pearsonr, spearmanr

    return float(pearsonr(x, y).statistic), float(spearmanr(x, y).statistic)


def read_human_csv(path: Path) -> tuple[dict[tuple[str, str], Outcome], dict[str, float], int]:
    """(call, criterion) -> outcome, call -> reviewer score, and the row count."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CalibrationError(path, None, "file not found") from None
    except UnicodeDecodeError:
        raise CalibrationError(path, None, "not valid UTF-8; save the CSV as UTF-8") from None
    reader = csv.DictReader(text.splitlines())
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in ("call_id", "criterion_id", "passed") if c not in cols]
    if missing:
        raise CalibrationError(path, 1, f"missing column(s) {', '.join(missing)}; "
                                        "need call_id, criterion_id, passed[, score]")
    reader.fieldnames = cols
    score_col = "score" if "score" in cols else "overall_score" if "overall_score" in cols else None
    verdicts: dict[tuple[str, str], Outcome] = {}
    scores: dict[str, float] = {}
    rows = 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        call, crit = (row.get("call_id") or "").strip(), (row.get("criterion_id") or "").strip()
        raw = (row.get("passed") or "").strip().lower()
        if not call or not crit:
            raise CalibrationError(path, line, "empty call_id or criterion_id")
        if raw not in _VALUES:
            raise CalibrationError(path, line, f"passed={raw!r} is not one of 1/0, yes/no, true/false, "
                                               "pass/fail, na")
        if (call, crit) in verdicts and verdicts[(call, crit)] != _VALUES[raw]:
            raise CalibrationError(path, line, f"{call}/{crit} is listed twice with different verdicts")
        verdicts[(call, crit)] = _VALUES[raw]
        cell = (row.get(score_col) or "").strip() if score_col else ""
        if cell:
            try:
                value = float(cell)
            except ValueError:
                raise CalibrationError(path, line, f"{score_col}={cell!r} is not a number") from None
            if call in scores and not math.isclose(scores[call], value):
                raise CalibrationError(path, line, f"call {call} has two different overall scores")
            scores[call] = value
    return verdicts, scores, rows


def _qm_outcome(criterion: Mapping[str, Any]) -> Outcome:
    passed = criterion.get("passed")
    return "na" if passed is None else "pass" if passed else "fail"


def calibrate(human_csv: Path, results: Mapping[str, dict[str, Any]]) -> CalibrationReport:
    """Compare reviewers' verdicts with stored results (call id -> contract dict)."""
    verdicts, human_scores, rows = read_human_csv(Path(human_csv))
    pairs: dict[str, list[tuple[Outcome, Outcome]]] = {}
    missing_calls: set[str] = set()
    unknown: set[str] = set()
    for (call, crit), human in sorted(verdicts.items()):
        result = results.get(call)
        if result is None:
            missing_calls.add(call)
            continue
        found = next((c for c in result.get("criteria", []) if c.get("id") == crit), None)
        if found is None:
            unknown.add(crit)
            continue
        pairs.setdefault(crit, []).append((_qm_outcome(found), human))
    agreements = []
    for crit in sorted(pairs):
        qm_l = [q for q, _ in pairs[crit]]
        hu_l = [h for _, h in pairs[crit]]
        n = len(qm_l)
        agreements.append(CriterionAgreement(
            criterion_id=crit, n=n,
            agreement=sum(1 for q, h in pairs[crit] if q == h) / n if n else None,
            kappa=cohen_kappa(qm_l, hu_l),
            qm_pass_human_fail=sum(1 for q, h in pairs[crit] if q == "pass" and h == "fail"),
            qm_fail_human_pass=sum(1 for q, h in pairs[crit] if q == "fail" and h == "pass"),
            applicability_mismatch=sum(1 for q, h in pairs[crit] if (q == "na") != (h == "na")),
        ))
    unknown -= set(pairs)
    common = sorted(c for c in human_scores if c in results)
    x = [float(results[c]["score"]) for c in common]
    y = [human_scores[c] for c in common]
    pearson, spearman = _correlations(x, y)
    return CalibrationReport(criteria=agreements, score_n=len(common), pearson=pearson, spearman=spearman,
                             rows=rows, missing_calls=sorted(missing_calls), unknown_criteria=sorted(unknown))


def _f(v: float | None, spec: str = ".2f") -> str:
    return "—" if v is None else format(v, spec)


def format_report(report: CalibrationReport) -> str:
    """Plain-text table (what ``qm calibrate`` prints)."""
    lines = [f"{'criterion':<28} {'n':>5} {'agree':>7} {'kappa':>7} {'qm✓/hu✗':>8} {'qm✗/hu✓':>8} {'N/A≠':>5}"]
    for a in report.criteria:
        lines.append(f"{a.criterion_id:<28} {a.n:>5} {_f(a.agreement, '.1%'):>7} {_f(a.kappa):>7} "
                     f"{a.qm_pass_human_fail:>8} {a.qm_fail_human_pass:>8} {a.applicability_mismatch:>5}")
    if not report.criteria:
        lines.append("(no criterion verdicts could be paired with stored results)")
    lines.append(f"overall score: n={report.score_n} pearson={_f(report.pearson)} "
                 f"spearman={_f(report.spearman)}")
    if report.missing_calls:
        lines.append(f"calls not in the store ({len(report.missing_calls)}): "
                     f"{', '.join(report.missing_calls[:10])}{' …' if len(report.missing_calls) > 10 else ''}")
    if report.unknown_criteria:
        lines.append(f"criterion ids not in the results: {', '.join(report.unknown_criteria)}")
    lines.append("kappa: <0.4 poor, 0.4–0.6 moderate, 0.6–0.8 substantial, >0.8 near-perfect; "
                 "'—' = undefined (one outcome only)")
    return "\n".join(lines)


def print_report(report: CalibrationReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Calibration: qm vs human reviewers")
    for col in ("criterion", "n", "agreement", "kappa", "qm pass / human fail", "qm fail / human pass",
                "N/A mismatch"):
        table.add_column(col, justify="left" if col == "criterion" else "right")
    for a in report.criteria:
        table.add_row(a.criterion_id, str(a.n), _f(a.agreement, ".1%"), _f(a.kappa),
                      str(a.qm_pass_human_fail), str(a.qm_fail_human_pass), str(a.applicability_mismatch))
    console = Console()
    console.print(table)
    tail = format_report(report).splitlines()[len(report.criteria) + 1 + (0 if report.criteria else 1):]
    for line in tail:
        console.print(line, markup=False, highlight=False)
