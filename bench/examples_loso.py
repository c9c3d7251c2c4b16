"""Leave-one-set-out check of the default rubric's example files (``bench/make_rubric_examples.py``).

An examples file is built from the labelled bench calls, so scoring those calls with it would test it on
its own data.  Here each labelled set is scored with a file built from all the *other* sets (the unseen
sets, blind29 and later, always stay out), on the scripts' exact words: the criterion's agreement with the
reviewers is then an estimate of how it does on calls it has never seen.  ``--baseline FILE`` also scores
every set with another rubric file (e.g. the rubric before the examples files:
``git show 9d3cd39:rubrics/default.yaml``); ``--encoder similarity`` compares the plain vectors instead of
the labeller's.

Run: .venv/bin/python -m bench.examples_loso --criterion professionalism|resolution [--baseline FILE]
     [--encoder similarity|labeller]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import yaml

from bench.labelled_sets import CALLS, SETS
from bench.make_rubric_examples import RUBRIC, SOURCES, UNSEEN, build, render
from bench.rubric_scripts import layout
from qm.rubric import load_rubric

Tally = tuple[int, int, int, int]


def verdicts(rubric_path: Path, paths: list[Path], criterion: str) -> list[tuple[bool | None, bool | None]]:
    """(qm, reviewer) verdicts of each script on ``criterion``."""
    rubric = load_rubric(rubric_path)
    out = []
    for path in paths:
        inp, human = layout(path)
        got = next(c.passed for c in rubric.score(inp).criteria if c.id == criterion)
        out.append((got, human.get(criterion)))
    return out


def tally(pairs: list[tuple[bool | None, bool | None]]) -> Tally:
    """agree, calls, false passes (reviewer failed, qm passed), false fails (reviewer passed, qm failed)."""
    return (sum(q == h for q, h in pairs), len(pairs), sum(h is False and q is True for q, h in pairs),
            sum(h is True and q is False for q, h in pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--criterion", choices=sorted(SOURCES), required=True)
    ap.add_argument("--baseline", type=Path, default=None, help="also score every set with this rubric file")
    ap.add_argument("--encoder", choices=("labeller", "similarity"), default=None,
                    help="vectors the criterion compares (default: as the rubric says)")
    args = ap.parse_args()
    source = SOURCES[args.criterion]
    sets = [s for s in SETS["all"] if s not in UNSEEN]  # folder names
    work = Path(tempfile.mkdtemp(prefix="qm-loso-"))
    folder = Path(shutil.copytree(RUBRIC.parent, work / "rubrics"))
    examples = folder / source.out.relative_to(RUBRIC.parent)
    if args.encoder:  # the fold's rubric copy, with the criterion's vectors switched
        data = yaml.safe_load((folder / RUBRIC.name).read_text(encoding="utf-8"))
        next(c for c in data["criteria"] if c["id"] == args.criterion)["encoder"] = args.encoder
        (folder / RUBRIC.name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rows: list[tuple[str, Tally, Tally | None]] = []
    for name in sets:
        paths = sorted((CALLS / name).glob("*.yaml"))
        examples.write_text(render(source, build(source, leave_out=(*UNSEEN, name))), encoding="utf-8")
        fold = tally(verdicts(folder / RUBRIC.name, paths, args.criterion))
        base = tally(verdicts(args.baseline, paths, args.criterion)) if args.baseline else None
        rows.append((name, fold, base))
        print(f"{name:9} left out: {fold[0]}/{fold[1]} agree, {fold[2]} false pass(es), {fold[3]} false fail(s)"
              + (f"   baseline {base[0]}/{base[1]} ({base[2]}, {base[3]})" if base else ""), flush=True)
    for label, idx in (("left-one-set-out", 1), ("baseline", 2)):
        parts = [r[idx] for r in rows if r[idx] is not None]
        if parts:
            a, n, fp, ff = (sum(p[i] for p in parts) for i in range(4))  # type: ignore[index]
            print(f"{args.criterion} {label}: {a}/{n} = {a / n:.1%} agree, {fp} false pass(es), {ff} false fail(s)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
