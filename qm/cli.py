"""The ``qm`` command: a thin shell over :mod:`qm.pipeline` and :mod:`qm.store`.

With ``--json`` exactly one JSON document goes to stdout; logs and progress go to stderr.
Expected errors print one line naming the file and the reason, and exit non-zero.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from qm.errors import QMError

app = typer.Typer(help="qm: score every contact-centre call, the same way each time.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
eval_app = typer.Typer(help="Evaluate qm's models on held-out data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

out = Console()
err = Console(stderr=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("faster_whisper", "httpx", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _progress_hook(enabled: bool):
    if not enabled:
        return None

    def hook(stage: str, event: str) -> None:
        if event == "start":
            err.print(f"[dim]… {stage}[/dim]", highlight=False)

    return hook


def print_result(doc: dict[str, Any], timings: dict[str, float] | None = None) -> None:
    """Human-readable view of a contract document."""
    a = doc["audio"]
    out.print(f"[bold]call {doc['call_id']}[/bold]  agent {doc['agent_id'] or '-'}  "
              f"{a['duration_s']:.1f} s, {a['channels']} ch, {a['sample_rate']} Hz  asr {doc['asr']['model']}")
    t = Table(show_header=True, header_style="bold", expand=False)
    for col in ("#", "time", "speaker", "text", "sent", "emotion", "emp", "q"):
        t.add_column(col, overflow="fold")
    for u in doc["utterances"]:
        t.add_row(str(u["index"]), f"{u['start']:.1f}", u["speaker"], u["text"], u["sentiment"]["label"][:3],
                  u.get("emotion") or "", "✓" if u["empathy"]["label"] else "", u["question"] or "")
    out.print(t)
    m = doc["metrics"]
    out.print("metrics: " + ", ".join(f"{k}={v}" for k, v in m.items()))
    if doc["criteria"]:
        ct = Table(show_header=True, header_style="bold")
        for col in ("criterion", "passed", "points", "evidence"):
            ct.add_column(col)
        for c in doc["criteria"]:
            mark = "n/a" if c["passed"] is None else ("pass" if c["passed"] else "FAIL")
            if c["auto_fail"]:
                mark += " (auto-fail)"
            ct.add_row(c["id"], mark, f"{c['score']:g}/{c['max_score']:g}", ",".join(map(str, c["evidence"])))
        out.print(ct)
    verdict = " [red]AUTO-FAILED[/red]" if doc["auto_failed"] else ""
    out.print(f"[bold]score {doc['score']:.1f}/100[/bold]{verdict}  rubric {doc['rubric']['id']}"
              f"@{doc['rubric']['version']}  redactions {doc['redactions']}")
    for c in doc["coaching"]:
        links = "; ".join(f"{r['title']} <{r['url']}>" for r in c["resources"])
        out.print(f"coach [bold]{c['skill']}[/bold]: {c['reason']}" + (f"  → {links}" if links else ""))
    if timings:
        out.print("[dim]timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()) + "[/dim]")


@app.command()
def score(
    audio: Annotated[Path, typer.Argument(help="Recording to score (any format FFmpeg decodes).")],
    agent: Annotated[str, typer.Option("--agent", help="Agent id the call belongs to.")],
    call_id: Annotated[str | None, typer.Option("--call-id", help="Call id; default: file stem + hash.")] = None,
    rubric: Annotated[str | None, typer.Option("--rubric", help="Rubric name in rubrics/ or a path.")] = None,
    agent_channel: Annotated[str | None, typer.Option(
        "--agent-channel", help="left | right | mono | agent=I,customer=J (files with >2 channels).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON document on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Transcribe, label, score and store one call."""
    _setup_logging(verbose)
    from qm.pipeline import Pipeline

    pipe = Pipeline(progress=_progress_hook(not as_json and verbose))
    try:
        scored = pipe.score(audio, agent_id=agent, call_id=call_id, rubric=rubric, agent_channel=agent_channel)
    except QMError as exc:
        try:
            pipe.store.record_failure(str(audio), "score", str(exc), call_id)
        except Exception:
            pass
        _fail(str(exc))
        return
    doc = scored.to_contract()
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        print_result(doc, scored.timings)


@app.command()
def rescore(
    call_id: Annotated[str, typer.Argument(help="Stored call id.")],
    rubric: Annotated[str | None, typer.Option("--rubric")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-score a stored call from its cached transcript (no re-transcription)."""
    _setup_logging(False)
    from qm.pipeline import Pipeline

    try:
        scored = Pipeline().rescore(call_id, rubric)
    except QMError as exc:
        _fail(str(exc))
        return
    doc = scored.to_contract()
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        print_result(doc, scored.timings)


@app.command("redact-again")
def redact_again() -> None:
    """Transcribe and redact again the stored calls whose text an older redactor (or other types) made."""
    _setup_logging(False)
    from qm.pipeline import Pipeline

    outcomes = Pipeline().redact_again(lambda call_id, outcome: out.print(f"{call_id}: {outcome}"))
    done = sum(o.startswith("transcribed") for o in outcomes.values())
    out.print(f"[bold]{done} of {len(outcomes)} call(s) with an older redaction redacted again[/bold]")
    if done < len(outcomes):
        raise typer.Exit(1)


@app.command()
def show(
    call_id: Annotated[str, typer.Argument(help="Stored call id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a stored call result."""
    _setup_logging(False)
    from qm.store import open_store

    doc = open_store().get_result(call_id)
    if doc is None:
        _fail(f"{call_id}: no stored result with this call id")
        return
    if as_json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        print_result(doc)


@app.command()
def calls(agent: Annotated[str | None, typer.Option("--agent")] = None,
          limit: Annotated[int, typer.Option("--limit")] = 50) -> None:
    """List stored calls (newest first)."""
    _setup_logging(False)
    from qm.store import open_store

    t = Table("call", "agent", "duration", "score", "rubric", "scored at")
    for c in open_store().list_calls(agent, limit):
        score_txt = "-" if c.score is None else f"{c.score:.1f}" + (" AF" if c.auto_failed else "")
        t.add_row(c.call_id, c.agent_id or "-", f"{c.duration_s:.0f}s", score_txt, c.rubric_id or "-",
                  c.scored_at.isoformat(timespec="seconds") if c.scored_at else "-")
    out.print(t)


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array of results on stdout.")] = False,
) -> None:
    """Score the bundled demo calls and show the results."""
    _setup_logging(False)
    from qm.demo import demo_calls
    from qm.pipeline import Pipeline

    pipe = Pipeline()
    docs = []
    failed = 0
    for call in demo_calls():
        err.print(f"[bold]scoring demo call {call.call_id}[/bold] ({call.description})", highlight=False)
        try:
            scored = pipe.score(call.path, agent_id=call.agent_id, call_id=call.call_id, rubric=call.rubric,
                                agent_channel=call.agent_channel)
        except QMError as exc:
            failed += 1
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            continue
        doc = scored.to_contract()
        docs.append(doc)
        if not as_json:
            print_result(doc, scored.timings)
            out.rule()
    if as_json:
        sys.stdout.write(json.dumps(docs, ensure_ascii=False) + "\n")
    else:
        out.print(f"[bold]{len(docs)} demo calls scored[/bold] into {pipe.settings.resolved_database_url}")
    if failed:
        raise typer.Exit(1)


@eval_app.command("nlp")
def eval_nlp(
    data: Annotated[Path | None, typer.Option(
        "--data", help="Datasets directory (default: ../shared/datasets beside the checkout).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accuracy, macro-F1 and per-class F1 of every classifier head on held-out splits."""
    _setup_logging(False)
    from qm.nlp import evaluate

    data = data or evaluate.DEFAULT_DATA
    if not data.is_dir():
        _fail(f"{data}: datasets directory not found (pass --data)")
    report = evaluate.run_eval(data)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(evaluate.format_table(report) + "\n")


def _mount() -> None:
    """Sub-commands that live with the code they drive: rubric tooling and the Prefect flows."""
    from flows.cli import flows_app
    from qm.rubric.cli import calibrate_command, rubric_app

    app.add_typer(rubric_app, name="rubric")
    app.command("calibrate")(calibrate_command)
    app.registered_commands.extend(flows_app.registered_commands)  # qm nightly / schedule / worker / …


_mount()


def main() -> None:
    try:
        app()
    except QMError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
