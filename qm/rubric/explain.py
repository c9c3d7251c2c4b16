"""Why a stored call got its score: each criterion with the utterances that decided it.

Works from the stored contract dict (not from a re-run), so a reviewer sees
exactly what was recorded; the rubric only adds each criterion's rule in words.
"""

from __future__ import annotations

from typing import Any

from qm.rubric.engine import Rubric

MARK = {True: "PASS", False: "FAIL", None: "N/A "}


def _clock(t: float) -> str:
    m, s = divmod(max(0.0, float(t)), 60.0)
    return f"{int(m):02d}:{s:04.1f}"


def _utterance_line(u: dict[str, Any]) -> str:
    tags = [u.get("sentiment", {}).get("label", "?")]
    if u.get("emotion"):
        tags.append(str(u["emotion"]))
    if u.get("empathy", {}).get("label"):
        tags.append("empathetic")
    if u.get("question"):
        tags.append(f"{u['question']} question")
    text = str(u.get("text", ""))
    if len(text) > 160:
        text = text[:157] + "..."
    return f"#{u.get('index')} {u.get('speaker', '?')} {_clock(u.get('start', 0.0))} \"{text}\" [{', '.join(tags)}]"


def explain(result: dict[str, Any], rubric: Rubric) -> str:
    """Human-readable explanation of a stored result (see qm/schema/call-result.schema.json)."""
    utts = {u.get("index"): u for u in result.get("utterances", [])}
    stored = result.get("rubric", {})
    specs = {k.spec.id: k for k in rubric.kinds}
    head = (f"Call {result.get('call_id')}  agent {result.get('agent_id') or '-'}  "
            f"score {float(result.get('score', 0.0)):.1f}/100"
            f"{'  AUTO-FAILED' if result.get('auto_failed') else ''}")
    lines = [head, f"Rubric {stored.get('id')} version {stored.get('version')}"]
    if stored.get("id") != rubric.id or stored.get("version") != rubric.version:
        lines.append(f"  note: rules shown are from rubric {rubric.id} version {rubric.version}, "
                     "which differs from the one used to score")
    for c in result.get("criteria", []):
        kind = specs.get(c.get("id"))
        name = c.get("name") or (kind.spec.title if kind else c.get("id"))
        flag = "  AUTO-FAIL" if c.get("auto_fail") else ""
        lines.append("")
        lines.append(f"[{MARK.get(c.get('passed'), '?')}] {name} ({c.get('id')}): "
                     f"{float(c.get('score', 0)):g}/{float(c.get('max_score', 0)):g}{flag}")
        if kind is not None:
            lines.append(f"       rule: {kind.kind}: {kind.summary()}")
            if kind.spec.requires:
                lines.append(f"       requires: {', '.join(kind.spec.requires)}")
            if kind.spec.not_applicable_when:
                lines.append(f"       not applicable {kind.spec.not_applicable_when.describe()}")
        detail = str(c.get("detail") or "")
        if detail:  # what decided it, e.g. which reply a reaction came from, or which counter-example vetoed a match
            lines.append(f"       why: {detail if len(detail) <= 400 else detail[:399] + '…'}")
        evidence = c.get("evidence") or []
        if not evidence:
            why = {None: "not applicable to this call", True: "no single utterance (whole-call measure)",
                   False: "nothing found that meets the rule"}
            lines.append(f"       evidence: none - {why.get(c.get('passed'), '')}")
        for i in evidence:
            u = utts.get(i)
            lines.append("       " + (_utterance_line(u) if u else f"#{i} (utterance not in the stored result)"))
    coaching = result.get("coaching") or []
    if coaching:
        lines += ["", "Coaching:"]
        for item in coaching:
            lines.append(f"  - {item.get('skill')}: {item.get('reason')}")
            for res in item.get("resources", []):
                lines.append(f"      {res.get('title')}: {res.get('url')}")
    return "\n".join(lines)
