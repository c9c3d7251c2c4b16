"""Build the default rubric's example files (``rubrics/examples/<criterion>.yaml``) from the project's own
labelled bench calls.

Why: a few example sentences catch what is worded like them.  Unprofessional remarks that fail real calls
are sarcasm, blame, condescension and brush-offs in words no regex foresees ("raising your voice isn't
going to make the bag fly any faster"), and next steps come in endless forms ("Truck's dispatched. Forty
minutes."), while vague promises ("leave it with me") must not count.  Each bench call carries a reviewer's
verdict per criterion; a per-turn file (one labeller, reading every call) says which turns carry it.
Those turns become ``examples`` and the sentences of the calls with the other verdict (table) become
``counter_examples``, so the criterion matches an utterance only when it is clearly nearer a known example
than any counter-example (a nearest-neighbour rule; docs/rubrics.md).

| file | examples: turns named in | of calls labelled | counter-examples: sentences of calls labelled |
|---|---|---|---|
| professionalism | bench/calls/unprofessional_turns.json | failed | passed |
| resolution | bench/calls/resolution_turns.json | passed | failed |
| identity_verification | bench/calls/identity_turns.json | passed | passed or failed (turns not named) |
| upset (empathy trigger) | bench/calls/empathy_turns.json, customer | passed or failed | any (turns not named) |
| acknowledgement (empathy response) | bench/calls/empathy_turns.json, agent | passed or failed | failed (not named) |

Sets written after these files were last built (blind35 and later) stay out of them, so they measure them unseen.

Run: .venv/bin/python -m bench.make_rubric_examples [--criterion NAME] [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.labelled_sets import BLIND, CALLS, SETS
from bench.rubric_scripts import sentences
from qm.config import PROJECT_ROOT

RUBRIC = PROJECT_ROOT / "rubrics" / "default.yaml"
# never in the files: measured unseen.  blind35-40 have per-turn labels since session 19, but built in they lowered
# professionalism left out one set at a time (771 vs 778 of 825 calls; docs/benchmarks.md), so they stay out too.
UNSEEN = BLIND[BLIND.index("blind35"):]  # blind35 and every set written after it
MIN_WORDS = 3  # "No." or "Brilliant." can be rude in context, but the words alone are not evidence


Verdict = bool | None


@dataclass(frozen=True)
class ExampleSource:
    name: str  # the file: rubrics/examples/<name>.yaml
    criterion: str  # the default rubric's criterion whose verdicts select the calls
    turns: Path  # per call: the turns that carry the behaviour
    examples_from: tuple[Verdict, ...]  # calls with these verdicts give their named turns as examples
    counters_from: tuple[Verdict, ...]  # calls with these verdicts give their sentences as counter-examples
    what: str  # one line for the file header
    key: str = "turns"  # the list of named turns in a call's entry of ``turns``
    speaker: str = "agent"  # whose turns
    field: str | None = None  # where the criterion reads the file: itself, or one of its example sets
    # counter-examples only from turns not named (calls that hold both, e.g. a failed empathy call that still
    # acknowledged one moment)
    counters_unnamed_only: bool = False

    @property
    def out(self) -> Path:
        return PROJECT_ROOT / "rubrics" / "examples" / f"{self.name}.yaml"


SOURCES = {
    "professionalism": ExampleSource(
        "professionalism", "professionalism", CALLS / "unprofessional_turns.json", (False,), (True,),
        "examples: unprofessional remarks agents made; counter_examples: every agent sentence of the calls that "
        "passed professionalism"),
    "resolution": ExampleSource(
        "resolution", "resolution", CALLS / "resolution_turns.json", (True,), (False,),
        "examples: the agent's fix or concrete next step; counter_examples: every agent sentence of the calls "
        "that failed resolution (vague promises, unanswered problems)"),
    "identity_verification": ExampleSource(
        "identity_verification", "identity_verification", CALLS / "identity_turns.json", (True,), (True, False),
        "examples: agents asking for or confirming identifying details; counter_examples: the agents' other "
        "sentences (a name alone, small talk, the problem itself)", counters_unnamed_only=True),
    "upset": ExampleSource(
        "upset", "empathy", CALLS / "empathy_turns.json", (True, False), (None, True, False),
        "examples: what upset customers said; counter_examples: the customers' other sentences (calm details and "
        "plain problem reports, and every sentence of the calls where the customer was never upset)",
        key="upset", speaker="customer", field="trigger_examples", counters_unnamed_only=True),
    "acknowledgement": ExampleSource(
        "acknowledgement", "empathy", CALLS / "empathy_turns.json", (True, False), (False,),
        "examples: agents acknowledging an upset customer's feelings or situation; counter_examples: the other "
        "agent sentences of the calls that failed empathy", key="empathy", field="response_examples",
        counters_unnamed_only=True),
}

HEADER = """\
# Examples for the default rubric's {where} (rubrics/default.yaml), from the project's
# labelled bench calls (turns named in bench/calls/{turns}).
# GENERATED by: .venv/bin/python -m bench.make_rubric_examples --criterion {name}
# {what}.
# Sets {unseen} are left out: they measure this file unseen (docs/benchmarks.md).
# A QA lead may add lines by hand; re-running the command rebuilds the file from the bench calls.
"""


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("\u2019", "'")).split())


def _carries(sentence: str, span: str) -> bool:
    """Whether a sentence of a named turn is (part of) the labelled span."""
    s, sp = _norm(sentence), _norm(span)
    if len(s.split()) < MIN_WORDS:
        return False
    shared = set(s.split()) & set(sp.split())
    return s in sp or sp in s or len(shared) >= 0.6 * len(s.split())


def build(source: ExampleSource, leave_out: tuple[str, ...] = UNSEEN, rubric: Path = RUBRIC,
          written: Path | None = None) -> dict[str, list[str]]:
    """The examples file's lists from every labelled set except ``leave_out``, plus the ``examples`` /
    ``counter_examples`` of a hand-written file (``written``), which no labelled set produced."""
    named: dict[str, dict[int, str]] = {
        key: {t["index"]: t["span"] for t in v[source.key]} for key, v in json.loads(source.turns.read_text()).items()}
    crit = next(c for c in yaml.safe_load(rubric.read_text())["criteria"] if c["id"] == source.criterion)
    where = crit.get(source.field) or {} if source.field else crit
    pos_key, neg_key = ("positive", "negative") if source.field else ("examples", "counter_examples")
    inline_pos = set(where.get(pos_key) or [])
    inline_neg = set(where.get(neg_key) or [])
    pos: set[str] = set()
    neg: set[str] = set()
    for folder in (f for f in SETS["all"] if f not in leave_out):
        for path in sorted((CALLS / folder).glob("*.yaml")):
            script = yaml.safe_load(path.read_text())
            label = (script.get("labels") or {}).get(source.criterion)
            key = f"bench/calls/{folder}/{path.name}"
            turns = named.get(key, {})
            if label in source.examples_from and key not in named:
                raise SystemExit(f"{key} is labelled {source.criterion}={label} but {source.turns.name} does not "
                                 "name its turns")
            for i, turn in enumerate(script["turns"]):
                if turn["speaker"] != source.speaker:
                    continue
                if label in source.examples_from and i in turns:
                    pos.add(turns[i])
                    pos.update(s for s in sentences(turn["text"]) if _carries(s, turns[i]))
                if label in source.counters_from and not (source.counters_unnamed_only and i in turns):
                    neg.update(sentences(turn["text"]))
    neg |= inline_neg
    if written is not None:
        extra = yaml.safe_load(written.read_text(encoding="utf-8")) or {}
        pos.update(extra.get("examples") or [])
        neg.update(extra.get("counter_examples") or [])
    # a sentence said in a call with the other verdict too (sarcastic "Brilliant.") is no evidence on its own
    pos -= neg | inline_pos
    neg -= inline_pos | inline_neg
    return {"examples": sorted(pos), "counter_examples": sorted(neg)}


def render(source: ExampleSource, data: dict[str, list[str]]) -> str:
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)
    where = f"{source.criterion} criterion" + (f" ({source.field})" if source.field else "")
    return HEADER.format(where=where, name=source.name, turns=source.turns.name, what=source.what,
                         unseen=f"{UNSEEN[0]} to {UNSEEN[-1]}") + body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--criterion", choices=sorted(SOURCES), action="append",
                    help="which file(s) to build (default: all)")
    ap.add_argument("--check", action="store_true", help="exit 1 if a committed file is not what this builds")
    args = ap.parse_args()
    stale = 0
    for name in args.criterion or sorted(SOURCES):
        source = SOURCES[name]
        text = render(source, build(source))
        if args.check:
            same = source.out.is_file() and source.out.read_text(encoding="utf-8") == text
            stale += not same
            print(f"{source.out}: {'up to date' if same else 'differs from what the bench calls give'}")
            continue
        source.out.parent.mkdir(parents=True, exist_ok=True)
        source.out.write_text(text, encoding="utf-8")
        data = yaml.safe_load(text)
        print(f"wrote {source.out}: {len(data['examples'])} examples, {len(data['counter_examples'])} "
              f"counter-examples, {len(text.encode()):,} bytes", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
