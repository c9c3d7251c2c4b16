"""Shared logic of the "did the agent say something like X" kinds (``phrase``, ``custom_behaviour``).

``required`` mode passes when some utterance in the window matches;
``forbidden`` mode passes when none in the window does.  Both are not
applicable when the speaker never spoke: a silent agent is not "polite".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from qm.rubric.examples import RegexList, compile_patterns
from qm.rubric.registry import CriterionKind, Verdict
from qm.rubric.spec import CriterionSpec, SpeakerSel, Window
from qm.rubric.view import CallView
from qm.types import Utterance

Mode = Literal["required", "forbidden"]


@dataclass(frozen=True, slots=True)
class Match:
    utterance: Utterance
    score: float  # similarity or probability, for the detail text
    matched: bool
    how: str  # "regex" | "similarity 0.81" | "p=0.93"
    vetoed: bool = False  # a meaning match that a counter-example overruled (reported, not counted)


class PresenceSpec(CriterionSpec):
    speaker: SpeakerSel = "agent"
    window: Window | None = None
    mode: Mode = "required"
    regex: RegexList = Field(default_factory=list)  # explicit cues: a match counts as found on its own

    def patterns(self) -> list[re.Pattern[str]]:
        return compile_patterns(self.regex)


class PresenceKind(CriterionKind):
    spec: PresenceSpec
    what: str = "phrase"

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:  # pragma: no cover
        raise NotImplementedError

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        spoken = call.by_speaker(s.speaker)
        if not spoken:
            return Verdict.na(f"no {s.speaker} speech")
        where = s.window.describe() if s.window else "whole call"
        pool = call.window(spoken, s.window)
        results = self.match(call, pool) if pool else []
        hits = [m for m in results if m.matched]
        if s.mode == "forbidden":
            if hits:
                listed = "; ".join(f"#{m.utterance.index} ({m.how})" for m in hits[:5])
                return Verdict.of(False, [m.utterance.index for m in hits],
                                  f"forbidden {self.what} found ({where}): {listed}")
            vetoed = "".join(f"; #{m.utterance.index} overruled by a counter-example ({m.how})"
                             for m in results if m.vetoed)
            return Verdict.of(True, [], f"no forbidden {self.what} among {len(pool)} {s.speaker} "
                                        f"utterance(s) ({where}){vetoed}")
        if hits:
            first = hits[0]
            return Verdict.of(True, [m.utterance.index for m in hits],
                              f"found at #{first.utterance.index} ({first.how}; {where})")
        if not results:
            return Verdict.of(False, [], f"no {s.speaker} utterance in window ({where})")
        best = max(results, key=lambda m: (m.score, -m.utterance.index))
        return Verdict.of(False, [], f"not found ({where}); closest #{best.utterance.index} "
                                     f"({best.how})")
