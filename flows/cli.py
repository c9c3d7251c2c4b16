"""``qm nightly | schedule | worker | rescore-batch``: the orchestration commands (mounted by ``qm.cli``).

``nightly`` and ``rescore`` run the flow in this process; without ``PREFECT_API_URL`` Prefect starts
a temporary local server for the run (ephemeral mode), so nothing has to be started by hand.
``schedule`` and ``worker`` need a real Prefect server (``PREFECT_API_URL``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

flows_app = typer.Typer(help="Prefect orchestration: nightly batches, schedules, workers.",
                        no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

out = Console()
err = Console(stderr=True)
DEFAULT_POOL = "qm"


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _quiet(verbose: bool) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("faster_whisper", "httpx", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _Bar:
    """Rich progress on stderr, fed by flow events in this process."""

    def __init__(self, label: str) -> None:
        self.progress = Progress(TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=err,
                                 transient=False)
        self.task = self.progress.add_task(label, total=None, last="discovering…")

    def __call__(self, event: str, uri: str, outcome: dict[str, Any] | None) -> None:
        if event == "total":
            self.progress.update(self.task, total=int(uri), last="")
        elif event == "start":
            self.progress.update(self.task, last=Path(uri).name)
        elif event == "end":
            status = (outcome or {}).get("status", "")
            self.progress.update(self.task, advance=1, last=f"{Path(uri).name}: {status}")

    def __enter__(self) -> _Bar:
        from flows.progress import add_observer

        self.progress.start()
        add_observer(self)
        return self

    def __exit__(self, *exc: object) -> None:
        from flows.progress import remove_observer

        remove_observer(self)
        self.progress.stop()


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    slow = summary["slowest_stage"]
    t = Table(show_header=False, box=None, padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    for label, value in (
        ("calls scored", str(summary["scored"])),
        ("failed (quarantined)", str(summary["failed"])),
        ("given back for next run", str(summary["released"])),
        ("still being written", str(summary["skipped_still_writing"])),
        ("already done", str(summary["already_done"])),
        ("audio", f"{summary['audio_hours']:.3f} h"),
        ("wall time", f"{summary['wall_s']:.1f} s"),
        ("audio h per wall h", f"{summary['audio_hours_per_wall_hour']:.1f}"),
        ("slowest stage", f"{slow['stage']} ({slow['seconds']:.1f} s)" if slow else "-"),
    ):
        t.add_row(label, value)
    out.print(t)
    for f in summary["failures"]:
        out.print(f"[red]failed[/red] {f['uri']}: {f['reason']}", highlight=False, soft_wrap=True)
    for r in summary["released_calls"]:
        out.print(f"[yellow]retry next run[/yellow] {r['uri']}: {r['reason']}", highlight=False,
                  soft_wrap=True)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from flows.sources import MetadataError, parse_time

    try:
        return datetime.fromisoformat(parse_time(value, "--since"))
    except MetadataError as exc:
        _fail(str(exc))
    return None


@flows_app.command()
def nightly(
    inbox: Annotated[str, typer.Option("--inbox", help="Folder or fsspec URL (s3://bucket/calls) to score.")],
    since: Annotated[str | None, typer.Option(
        "--since", help="Only calls started at/after (ISO 8601).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Calls scored at once.")] = 2,
    manifest: Annotated[str | None, typer.Option("--manifest", help="CSV manifest of the calls.")] = None,
    pattern: Annotated[str | None, typer.Option(
        "--pattern", help="Regex with named groups agent_id/call_id/start for file names.")] = None,
    stable_wait: Annotated[float, typer.Option(
        "--stable-wait", min=0, help="Seconds between the two looks that prove a file is complete.")] = 2.0,
    lease: Annotated[float, typer.Option("--lease", min=5, help="Claim lease in seconds.")] = 120.0,
    rubric: Annotated[str | None, typer.Option("--rubric")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON document.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Score every new recording in an inbox once (embedded Prefect; no server needed)."""
    _quiet(verbose)
    import re

    from flows.sources import DEFAULT_PATTERN

    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            _fail(f"--pattern {pattern!r}: {exc}")
    if "://" not in inbox and not Path(inbox).is_dir():
        _fail(f"inbox {inbox}: not a directory")
    if manifest and "://" not in manifest and not Path(manifest).is_file():
        _fail(f"manifest {manifest}: file not found")
    from flows.nightly import nightly as nightly_flow
    from qm.errors import QMError

    try:
        with _Bar("nightly"):
            summary = nightly_flow(source=inbox if "://" in inbox else str(Path(inbox).resolve()),
                                   since=_since(since), concurrency=concurrency, manifest=manifest,
                                   pattern=pattern or DEFAULT_PATTERN, stable_wait_s=stable_wait,
                                   lease_s=lease, rubric=rubric)
    except QMError as exc:  # setup (models, rubric): the calls stay pending for the next run
        _fail(str(exc))
        return
    _print_summary(summary, as_json)
    if summary["failed"]:
        raise typer.Exit(1)


@flows_app.command("rescore-batch")
def rescore_batch(
    rubric: Annotated[str, typer.Option("--rubric", help="Rubric name in rubrics/ or a path.")],
    since: Annotated[str | None, typer.Option("--since", help="Calls started at/after (ISO 8601).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Re-score stored calls with a rubric from their cached transcripts (no re-transcription)."""
    _quiet(verbose)
    from flows.rescore import rescore as rescore_flow
    from qm.errors import QMError

    try:
        with _Bar("rescore"):
            summary = rescore_flow(rubric=rubric, since=_since(since), concurrency=concurrency)
    except QMError as exc:
        _fail(str(exc))
        return
    _print_summary(summary, as_json)
    if summary["failed"]:
        raise typer.Exit(1)


def _need_server() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        _fail("this command needs a Prefect server: set PREFECT_API_URL (e.g. http://prefect:4200/api); "
              "see docs/operations.md")
    return str(url)


@flows_app.command()
def schedule(
    inbox: Annotated[str, typer.Option("--inbox", help="Folder or fsspec URL the nightly run scores.")],
    cron: Annotated[str, typer.Option("--cron", help="Cron expression, e.g. '0 2 * * *'.")] = "0 2 * * *",
    timezone: Annotated[str, typer.Option("--timezone", help="IANA zone the cron is read in.")] = "UTC",
    pool: Annotated[str, typer.Option("--pool", help="Work pool (created as a process pool if absent).")]
    = DEFAULT_POOL,
    manifest: Annotated[str | None, typer.Option("--manifest")] = None,
    fan_out: Annotated[int, typer.Option(
        "--fan-out", min=0,
        help="Spread each night over N pool workers (0: score inside the nightly run).")] = 0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Calls at once per worker.")] = 2,
) -> None:
    """Create (or update) the nightly deployment and its schedule on the Prefect server."""
    _quiet(False)
    url = _need_server()
    from flows.deploy import deploy_all

    try:
        ids = deploy_all(inbox=inbox, cron=cron, timezone=timezone, pool=pool, manifest=manifest,
                         fan_out=fan_out, concurrency=concurrency)
    except ValueError as exc:
        _fail(str(exc))
        return
    for name, dep_id in ids.items():
        out.print(f"deployment [bold]{name}[/bold] ({dep_id}) on pool {pool!r} at {url}", highlight=False)
    out.print(f"schedule: {cron} ({timezone}). Start workers with: qm worker --pool {pool}", highlight=False)


@flows_app.command()
def worker(
    pool: Annotated[str, typer.Option("--pool", help="Work pool to take runs from.")] = DEFAULT_POOL,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Flow runs at once on this worker.")] = 1,
    name: Annotated[str | None, typer.Option("--name", help="Worker name shown in the UI.")] = None,
    healthcheck: Annotated[bool, typer.Option(
        "--healthcheck",
        help="Serve /health on PREFECT_WORKER_WEBSERVER_PORT (8080) for containers.")] = False,
) -> None:
    """Start a Prefect process worker on a work pool (runs until stopped)."""
    _need_server()
    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if limit:
        args += ["--limit", str(limit)]
    if name:
        args += ["--name", name]
    if healthcheck:
        args.append("--with-healthcheck")
    os.execv(sys.executable, args)


def main() -> None:  # pragma: no cover - `python -m flows.cli`
    flows_app()


if __name__ == "__main__":  # pragma: no cover
    main()
