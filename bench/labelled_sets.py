"""The labelled bench call sets (scripts with per-criterion human verdicts), shared by the rubric benches.

How each set was written and used: bench/calls/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

CALLS = Path(__file__).resolve().parent / "calls"
SETS: dict[str, tuple[str, ...]] = {
    "dev": ("scripts",), "heldout": ("heldout",), "test": ("test",),
    "blind": ("blind",), "blind2": ("blind2",), "blind3": ("blind3",),
    "blind4": ("blind4",), "blind5": ("blind5",), "blind6": ("blind6",), "blind7": ("blind7",),
    "blind8": ("blind8",), "blind9": ("blind9",), "blind10": ("blind10",), "blind11": ("blind11",),
    "blind12": ("blind12",), "blind13": ("blind13",), "blind14": ("blind14",),
    "blind15": ("blind15",), "blind16": ("blind16",), "blind17": ("blind17",), "blind18": ("blind18",),
    "blind19": ("blind19",), "blind20": ("blind20",), "blind21": ("blind21",), "blind22": ("blind22",),
    "blind23": ("blind23",), "blind24": ("blind24",), "blind25": ("blind25",), "blind26": ("blind26",),
    "blind27": ("blind27",), "blind28": ("blind28",), "blind29": ("blind29",), "blind30": ("blind30",),
    "blind31": ("blind31",), "blind32": ("blind32",), "blind33": ("blind33",), "blind34": ("blind34",),
    "blind35": ("blind35",), "blind36": ("blind36",), "blind37": ("blind37",), "blind38": ("blind38",),
    "blind39": ("blind39",), "blind40": ("blind40",),
    "blind41": ("blind41",), "blind42": ("blind42",), "blind43": ("blind43",), "blind44": ("blind44",),
    "blind45": ("blind45",), "blind46": ("blind46",), "blind47": ("blind47",), "blind48": ("blind48",),
    "blind49": ("blind49",), "blind50": ("blind50",),
    "seen": ("scripts", "heldout", "test"),
    "all": ("scripts", "heldout", "test", "blind", "blind2", "blind3", "blind4", "blind5", "blind6", "blind7",
            "blind8", "blind9", "blind10", "blind11", "blind12", "blind13", "blind14", "blind15", "blind16",
            "blind17", "blind18", "blind19", "blind20", "blind21", "blind22", "blind23", "blind24",
            "blind25", "blind26", "blind27", "blind28", "blind29", "blind30", "blind31", "blind32",
            "blind33", "blind34", "blind35", "blind36", "blind37", "blind38", "blind39",
            "blind40", "blind41", "blind42", "blind43", "blind44", "blind45", "blind46",
            "blind47", "blind48", "blind49", "blind50"),
}


def set_key(folder: str) -> str:
    """The ``--set`` name of one folder (``scripts`` is the dev set)."""
    return next(k for k, v in SETS.items() if v == (folder,))


def scripts(name: str) -> list[Path]:
    """The script files of one set (or group of sets), in a fixed order."""
    return [p for folder in SETS[name] for p in sorted((CALLS / folder).glob("*.yaml"))]
