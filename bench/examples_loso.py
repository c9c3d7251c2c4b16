"""Leave-one-set-out check of the default rubric's example files (``bench/make_rubric_examples.py``).

An examples file is built from the labelled bench calls, so scoring those calls with it would test it on
its own data.  Here each labelled set is scored with a file built from all the *other* sets (the unseen
sets, blind29 and later, always stay out), on the scripts' exact words: the criterion's agreement with the
reviewers is then an estimate of how it does on calls it has never seen.  ``--baseline FILE`` also scores
every set with another rubric file (e.g. the rubric before the examples files:
``git show 9d3cd39:rubrics/default.yaml``); ``--encoder similarity`` compares the plain vectors instead of
the labeller's.

``--stores DIR`` judges Whisper's text instead of the exact words: each call is re-scored from the transcript
stored by ``bench/rubric_agreement.py --set SET --data-dir DIR/SET`` (``Pipeline.rescore``, no Whisper), and the
unseen sets are then scored with the file built from every other set.  (The re-scores are saved into those stores.)

``--written FILE`` merges hand-written ``examples`` / ``counter_examples`` into every fold (e.g.
``bench/written/professionalism.yaml``, tried in session 21 and not kept; docs/benchmarks.md).

Run: .venv/bin/python -m bench.examples_loso --criterion professionalism|resolution|upset|acknowledgement
     [--baseline FILE] [--encoder similarity|labeller] [--stores DIR] [--written FILE]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.labelled_sets import CALLS, SETS, set_key
from bench.make_rubric_examples import RUBRIC, SOURCES, UNSEEN, build, render
from bench.rubric_scripts import LABEL_CRITERIA, layout
from bench.synth.make_call import load_script
from qm.rubric import load_rubric

Tally = tuple[int, int, int, int, int, int]
_LAYOUTS: dict[Path, tuple] = {}
_VECTORS: dict[tuple[str, str], np.ndarray] = {}


def _memo_encode(enc: Any, texts: list[str]) -> np.ndarray:
    """``encode_examples`` with a per-sentence memo: the folds share nearly all their sentences, and encoding
    each fold's thousands of examples from scratch would dominate the run."""
    ident = getattr(enc, "identity", None) or str(getattr(enc, "path", type(enc).__name__))
    todo = [t for t in dict.fromkeys(texts) if (ident, t) not in _VECTORS]
    if todo:
        for t, v in zip(todo, np.asarray(enc.encode(todo), dtype=np.float32), strict=True):
            _VECTORS[(ident, t)] = v
    return np.stack([_VECTORS[(ident, t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)


_PIPES: dict[Path, Any] = {}


def stored_verdicts(rubric_path: Path, paths: list[Path], criterion: str,
                    store: Path) -> list[tuple[bool | None, bool | None]]:
    """(qm, reviewer) verdicts of each call as Whisper heard it: its stored transcript re-scored."""
    from qm.config import Settings
    from qm.pipeline import Pipeline

    if store not in _PIPES:
        if not (store / "qm.db").is_file():
            raise SystemExit(f"no store at {store}: run bench/rubric_agreement.py --set ... --data-dir {store}")
        _PIPES[store] = Pipeline(Settings(data_dir=store))
    out = []
    for path in paths:
        script = load_script(path)
        doc = _PIPES[store].rescore(script.call_id, rubric=str(rubric_path)).to_contract()
        out.append((next(c["passed"] for c in doc["criteria"] if c["id"] == criterion), script.labels.get(criterion)))
    return out


def verdicts(rubric_path: Path, paths: list[Path], criterion: str,
             store: Path | None = None) -> list[tuple[bool | None, bool | None]]:
    """(qm, reviewer) verdicts of each script on ``criterion`` (labelled by the heads once, when it reads labels)."""
    if store is not None:
        return stored_verdicts(rubric_path, paths, criterion, store)
    rubric = load_rubric(rubric_path)
    out = []
    for path in paths:
        if path not in _LAYOUTS:
            _LAYOUTS[path] = layout(path, criterion in LABEL_CRITERIA)
        inp, human = _LAYOUTS[path]
        got = next(c.passed for c in rubric.score(inp).criteria if c.id == criterion)
        out.append((got, human.get(criterion)))
    return out


def tally(pairs: list[tuple[bool | None, bool | None]]) -> Tally:
    """agree, calls, false passes (reviewer failed, qm passed), false fails (reviewer passed, qm failed),
    false not-applicable (the reviewer judged the call, qm found nothing to judge), false applicable (the
    reviewer found nothing to judge, qm judged the call)."""
    return (sum(q == h for q, h in pairs), len(pairs), sum(h is False and q is True for q, h in pairs),
            sum(h is True and q is False for q, h in pairs), sum(h is not None and q is None for q, h in pairs),
            sum(h is None and q is not None for q, h in pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--criterion", choices=sorted(SOURCES), required=True, action="append",
                    help="the examples file(s) rebuilt for each fold (several: files of the same criterion)")
    ap.add_argument("--baseline", type=Path, default=None, help="also score every set with this rubric file")
    ap.add_argument("--rubric", type=Path, default=RUBRIC,
                    help="the rubric file whose folder is copied for each fold (default: rubrics/default.yaml)")
    ap.add_argument("--encoder", choices=("labeller", "similarity"), default=None,
                    help="vectors the criterion compares (default: as the rubric says)")
    ap.add_argument("--stores", type=Path, default=None,
                    help="judge Whisper's text: one rubric_agreement store per set under this folder")
    ap.add_argument("--written", type=Path, default=None,
                    help="hand-written examples/counter_examples merged into every fold")
    args = ap.parse_args()
    from qm.rubric import examples as examples_module
    from qm.rubric.kinds import phrase as phrase_module

    examples_module.encode_examples = phrase_module.encode_examples = _memo_encode  # type: ignore[assignment]
    sources = [SOURCES[c] for c in args.criterion]
    criterion = sources[0].criterion
    if any(s.criterion != criterion for s in sources):
        ap.error("the files must belong to one criterion")
    sets = [s for s in SETS["all"] if s not in UNSEEN]  # folder names
    work = Path(tempfile.mkdtemp(prefix="qm-loso-"))
    folder = Path(shutil.copytree(args.rubric.parent, work / "rubrics"))
    name = args.rubric.name
    if args.encoder:  # the fold's rubric copy, with the criterion's vectors switched
        data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
        crit = next(c for c in data["criteria"] if c["id"] == criterion)
        for source in sources:
            (crit[source.field] if source.field else crit)["encoder"] = args.encoder
        (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rows: list[tuple[str, Tally, Tally | None]] = []
    unseen: list[tuple[str, Tally, Tally | None]] = []
    folds = [(s, (*UNSEEN, s)) for s in sets] + ([(s, UNSEEN) for s in UNSEEN] if args.stores else [])
    for set_name, leave_out in folds:
        paths = sorted((CALLS / set_name).glob("*.yaml"))
        for source in sources:
            text = render(source, build(source, leave_out=leave_out, rubric=args.rubric, written=args.written))
            (folder / source.out.relative_to(RUBRIC.parent)).write_text(text, encoding="utf-8")
        store = args.stores / set_key(set_name) if args.stores else None
        fold = tally(verdicts(folder / name, paths, criterion, store))
        base = tally(verdicts(args.baseline, paths, criterion, store)) if args.baseline else None
        (unseen if set_name in UNSEEN else rows).append((set_name, fold, base))
        how = "unseen" if set_name in UNSEEN else "left out"
        print(f"{set_name:9} {how}: {fold[0]}/{fold[1]} agree, {fold[2]} false pass(es), {fold[3]} false fail(s)"
              + (f", {fold[4]} false n/a, {fold[5]} false applicable" if fold[4] or fold[5] else "")
              + (f"   baseline {base[0]}/{base[1]} ({base[2]}, {base[3]}, {base[4]}, {base[5]})" if base else ""),
              flush=True)
    for label, idx, group in (("left-one-set-out", 1, rows), ("baseline", 2, rows),
                              ("unseen sets", 1, unseen), ("unseen sets, baseline", 2, unseen)):
        parts = [r[idx] for r in group if r[idx] is not None]
        if parts:
            a, n, fp, ff, fna, fap = (sum(p[i] for p in parts) for i in range(6))  # type: ignore[index]
            print(f"{criterion} ({', '.join(args.criterion)}) {label}: {a}/{n} = {a / n:.1%} agree, "
                  f"{fp} false pass(es), {ff} false fail(s), {fna} false not-applicable, {fap} false applicable")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
