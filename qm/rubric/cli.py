"""``qm rubric validate|show|explain`` (and the ``calibrate`` command the main CLI mounts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qm.rubric.errors import RubricError

rubric_app = typer.Typer(help="Validate, inspect and explain scoring rubrics.", no_args_is_help=True)


def _rubrics_dir(override: Path | None) -> Path:
    if override is not None:
        return override
    from qm.config import get_settings

    return get_settings().rubrics_dir


@rubric_app.command()
def validate(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Rubric files; default: every *.yaml in the rubrics dir.")] = None,
    rubrics_dir: Annotated[Path | None, typer.Option("--rubrics-dir", help="Where named rubrics live.")] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also load the encoder and train custom behaviours.")] = False,
) -> None:
    """Check rubric files; prints file:line: field: reason for each problem and exits 1 if any."""
    from qm.rubric.loader import load_rubric

    paths = list(files or sorted(_rubrics_dir(rubrics_dir).glob("*.yaml")))
    if not paths:
        typer.echo(f"no rubric files found in {_rubrics_dir(rubrics_dir)}", err=True)
        raise typer.Exit(1)
    bad = 0
    for path in paths:
        try:
            r = load_rubric(path, prepare=deep)
        except RubricError as exc:
            bad += 1
            typer.echo(f"✗ {exc}", err=True)
            continue
        typer.echo(f"✓ {path}: {r.id} version {r.version}, {len(r.criteria)} criteria")
    if bad:
        typer.echo(f"{bad} of {len(paths)} rubric file(s) invalid", err=True)
        raise typer.Exit(1)


@rubric_app.command()
def show(
    name: Annotated[str, typer.Argument(help="Rubric name (file stem in the rubrics dir) or path.")],
    rubrics_dir: Annotated[Path | None, typer.Option("--rubrics-dir")] = None,
) -> None:
    """Print a rubric's criteria, weights, rules and coaching skills."""
    from rich.console import Console
    from rich.markup import escape

    from qm.rubric.loader import load_rubric

    try:
        r = load_rubric(name, rubrics_dir, prepare=False)
    except RubricError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    console = Console(highlight=False)
    console.print(f"[bold]{escape(r.name)}[/bold]  id={r.id}  version={r.version}")
    console.print(f"file: {escape(str(r.path))}")
    if r.description:
        console.print(escape(r.description.strip()))
    total = sum(c.weight for c in r.criteria)
    for k in r.kinds:
        s = k.spec
        facts = [k.kind, f"weight {s.weight:g} ({100 * s.weight / total:.0f}%)"]
        facts += [f"skill {s.skill}"] if s.skill else []
        facts += ["[bold red]AUTO-FAIL[/bold red]"] if s.auto_fail else []
        console.print(f"\n[bold]{s.id}[/bold] — {escape(s.title)}")
        console.print("  " + " · ".join(facts))
        console.print(f"  rule: {escape(k.summary())}")
        if s.requires:
            console.print(f"  requires: {', '.join(s.requires)}")
        if s.not_applicable_when:
            console.print(f"  not applicable {escape(s.not_applicable_when.describe())}")
    if r.skills:
        console.print("\n[bold]Skills and training resources[/bold]")
    for skill_id, skill in r.skills.items():
        console.print(f"  [bold]{skill_id}[/bold] {escape(skill.name or '')}")
        for res in skill.resources:
            console.print(f"    {escape(res.title)}: {res.url}")


@rubric_app.command()
def explain(
    call_id: Annotated[str, typer.Argument(help="Id of a scored call in the store.")],
    rubric: Annotated[str | None, typer.Option(
        "--rubric", help="Rubric to read rules from; default: the one used.")] = None,
    rubrics_dir: Annotated[Path | None, typer.Option("--rubrics-dir")] = None,
) -> None:
    """Show which utterances decided each criterion of a stored call."""
    from qm.rubric.explain import explain as render
    from qm.rubric.loader import load_rubric
    from qm.store import get_result  # provided by the store module

    result = get_result(call_id)
    if result is None:
        typer.echo(f"{call_id}: no stored result for this call id", err=True)
        raise typer.Exit(1)
    try:
        r = load_rubric(rubric or result["rubric"]["id"], rubrics_dir, prepare=False)
    except RubricError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(render(result, r))


def calibrate_command(
    human_csv: Annotated[Path, typer.Argument(help="Reviewers' CSV: call_id, criterion_id, passed[, score].")],
) -> None:
    """Agreement (and Cohen's kappa) of qm's criterion verdicts with human reviewers'."""
    from qm.errors import QMError
    from qm.rubric.calibrate import calibrate, print_report, read_human_csv
    from qm.store import open_store

    try:
        verdicts, _, _ = read_human_csv(human_csv)
        results = open_store().results(sorted({c for c, _ in verdicts}))
        report = calibrate(human_csv, results)
    except QMError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    print_report(report)
