"""The labelled bench call sets (scripts with per-criterion human verdicts), shared by the rubric benches.

How each set was written and used: bench/calls/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

CALLS = Path(__file__).resolve().parent / "calls"
# blind, blind2 … blindN: one folder each, written by separate authors and committed before scoring (extend the
# range when a set is added; bench/make_rubric_examples.py keeps blind35 and later out of the example files)
BLIND = ("blind", *(f"blind{n}" for n in range(2, 79)))
SETS: dict[str, tuple[str, ...]] = {
    "dev": ("scripts",), "heldout": ("heldout",), "test": ("test",),
    **{name: (name,) for name in BLIND},
    "seen": ("scripts", "heldout", "test"),
    "all": ("scripts", "heldout", "test", *BLIND),
}


def set_key(folder: str) -> str:
    """The ``--set`` name of one folder (``scripts`` is the dev set)."""
    return next(k for k, v in SETS.items() if v == (folder,))


def scripts(name: str) -> list[Path]:
    """The script files of one set (or group of sets), in a fixed order."""
    return [p for folder in SETS[name] for p in sorted((CALLS / folder).glob("*.yaml"))]
