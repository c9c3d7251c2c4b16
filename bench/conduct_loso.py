"""Leave-one-set-out check of the default rubric's professionalism examples file.

The examples file (``bench/make_conduct_examples.py``) is built from the labelled bench calls, so
scoring those calls with it would test it on its own data.  Here each labelled set is scored with a
file built from all the *other* sets (the unseen sets, blind29 and later, always stay out), on the
scripts' exact words: the agreement of ``professionalism`` with the reviewers is then an estimate of
how the criterion does on calls it has never seen.  ``--baseline FILE`` also scores every set with
another rubric file (e.g. the rubric before the examples file: ``git show 9d3cd39:rubrics/default.yaml``);
``--encoder similarity`` compares the plain vectors instead of the labeller's.

Run: .venv/bin/python -m bench.conduct_loso [--baseline FILE] [--encoder similarity|labeller]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.labelled_sets import CALLS, SETS
from bench.make_conduct_examples import OUT, RUBRIC, UNSEEN, build, render
from bench.rubric_scripts import layout
from qm.rubric import load_rubric

CRITERION = "professionalism"


def verdicts(rubric_path: Path, paths: list[Path]) -> list[tuple[bool | None, bool | None]]:
    """(qm, reviewer) professionalism verdicts of each script."""
    rubric = load_rubric(rubric_path)
    out = []
    for path in paths:
        inp, human = layout(path)
        got = next(c.passed for c in rubric.score(inp).criteria if c.id == CRITERION)
        out.append((got, human.get(CRITERION)))
    return out


def tally(pairs: list[tuple[bool | None, bool | None]]) -> tuple[int, int, int, int]:
    """agree, calls, false alarms (reviewer passed, qm failed), misses (reviewer failed, qm passed)."""
    return (sum(q == h for q, h in pairs), len(pairs), sum(h is True and q is False for q, h in pairs),
            sum(h is False and q is not False for q, h in pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, default=None, help="also score every set with this rubric file")
    ap.add_argument("--encoder", choices=("labeller", "similarity"), default=None,
                    help="vectors the professionalism match compares (default: as the rubric says)")
    args = ap.parse_args()
    sets = [s for s in SETS["all"] if s not in UNSEEN]  # folder names
    work = Path(tempfile.mkdtemp(prefix="qm-loso-"))
    folder = Path(shutil.copytree(RUBRIC.parent, work / "rubrics"))
    examples = folder / OUT.relative_to(RUBRIC.parent)
    if args.encoder:
        text = (folder / RUBRIC.name).read_text(encoding="utf-8")
        if "    encoder: labeller\n" not in text:
            raise SystemExit("the rubric's professionalism criterion no longer says 'encoder: labeller'")
        (folder / RUBRIC.name).write_text(text.replace("    encoder: labeller\n", f"    encoder: {args.encoder}\n"))
    rows: list[tuple[str, tuple[int, int, int, int], tuple[int, int, int, int] | None]] = []
    for name in sets:
        paths = sorted((CALLS / name).glob("*.yaml"))
        examples.write_text(render(build(leave_out=(*UNSEEN, name))), encoding="utf-8")
        fold = tally(verdicts(folder / RUBRIC.name, paths))
        base = tally(verdicts(args.baseline, paths)) if args.baseline else None
        rows.append((name, fold, base))
        print(f"{name:9} left out: {fold[0]}/{fold[1]} agree, {fold[2]} false alarm(s), {fold[3]} miss(es)"
              + (f"   baseline {base[0]}/{base[1]} ({base[2]}, {base[3]})" if base else ""), flush=True)
    for label, idx in (("left-one-set-out", 1), ("baseline", 2)):
        parts = [r[idx] for r in rows if r[idx] is not None]
        if parts:
            a, n, fa, miss = (sum(p[i] for p in parts) for i in range(4))  # type: ignore[index]
            print(f"{label}: {a}/{n} = {a / n:.1%} agree, {fa} false alarm(s), {miss} miss(es)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
