"""The batch summary: one dict for callers and tests, one markdown + table artifact for the Prefect UI."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def summarise(outcomes: list[dict[str, Any]], rejected: list[dict[str, Any]], still_writing: list[str],
              already_done: int, wall_s: float, post_steps: list[str]) -> dict[str, Any]:
    scored = [o for o in outcomes if o["status"] in ("scored", "lost-lease")]
    failed = [o for o in outcomes if o["status"] == "failed"] + rejected
    released = [o for o in outcomes if o["status"] == "released"]
    stage_totals: dict[str, float] = defaultdict(float)
    for o in scored:
        for stage, secs in (o.get("timings") or {}).items():
            stage_totals[stage] += secs
    audio_s = sum(o.get("duration_s") or 0.0 for o in scored)
    slowest = max(stage_totals.items(), key=lambda kv: kv[1]) if stage_totals else None
    return {
        "scored": len(scored),
        "failed": len(failed),
        "released": len(released),
        "skipped_claimed_elsewhere": sum(1 for o in outcomes if o["status"] == "skipped"),
        "skipped_still_writing": len(still_writing),
        "already_done": already_done,
        "audio_hours": audio_s / 3600.0,
        "wall_s": wall_s,
        "audio_hours_per_wall_hour": (audio_s / wall_s) if wall_s > 0 else 0.0,
        "slowest_stage": {"stage": slowest[0], "seconds": slowest[1]} if slowest else None,
        "stage_seconds": dict(sorted(stage_totals.items(), key=lambda kv: -kv[1])),
        "failures": [{"uri": f["uri"], "call_id": f.get("call_id"), "reason": f.get("reason"),
                      "quarantined": f.get("quarantined")} for f in failed],
        "released_calls": [{"uri": r["uri"], "reason": r.get("reason")} for r in released],
        "still_writing": list(still_writing),
        "calls": [{"call_id": o["call_id"], "agent_id": o.get("agent_id"), "score": o.get("score"),
                   "duration_s": o.get("duration_s"), "uri": o["uri"]} for o in scored],
        "post_steps": post_steps,
    }


def markdown(summary: dict[str, Any], title: str = "qm nightly") -> str:
    s = summary
    slow = s["slowest_stage"]
    lines = [
        f"# {title}",
        "",
        "| calls scored | failed | retry next run | still being written | already done | audio (h) | "
        "wall time (s) | audio h / wall h | slowest stage |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s['scored']} | {s['failed']} | {s['released']} | {s['skipped_still_writing']} | "
        f"{s['already_done']} | {s['audio_hours']:.3f} | {s['wall_s']:.1f} | "
        f"{s['audio_hours_per_wall_hour']:.1f} | "
        + (f"{slow['stage']} ({slow['seconds']:.1f} s)" if slow else "-") + " |",
    ]
    if s["stage_seconds"]:
        lines += ["", "## Time per stage (s, summed over calls)", "",
                  "| " + " | ".join(s["stage_seconds"]) + " |",
                  "|" + "---|" * len(s["stage_seconds"]),
                  "| " + " | ".join(f"{v:.2f}" for v in s["stage_seconds"].values()) + " |"]
    if s["failures"]:
        lines += ["", "## Failed (quarantined)", "", "| file | call id | reason |", "|---|---|---|"]
        lines += [f"| `{f['uri']}` | {f['call_id'] or '-'} | {_cell(f['reason'])} |" for f in s["failures"]]
    if s["released_calls"]:
        lines += ["", "## Given back for the next run", "", "| file | reason |", "|---|---|"]
        lines += [f"| `{r['uri']}` | {_cell(r['reason'])} |" for r in s["released_calls"]]
    if s["still_writing"]:
        lines += ["", "## Skipped: still being written", ""] + [f"- `{u}`" for u in s["still_writing"]]
    steps = ", ".join(s["post_steps"]) if s["post_steps"] else "none registered"
    lines += ["", "Post-scoring steps: " + steps]
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:300]


def publish(summary: dict[str, Any], key: str, title: str) -> None:
    """Attach the summary to the current flow run (no-op outside a run)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is None:
        return
    create_markdown_artifact(markdown(summary, title), key=key, description=f"{title} summary")
    if summary["calls"]:
        create_table_artifact(summary["calls"], key=f"{key}-calls", description="calls scored in this run")
