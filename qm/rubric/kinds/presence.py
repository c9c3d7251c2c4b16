"""Shared logic of the "did the agent say something like X" kinds (``phrase``, ``custom_behaviour``).

``required`` mode passes when some utterance in the window matches;
``forbidden`` mode passes when none in the window does.  Both are not
applicable when the speaker never spoke: a silent agent is not "polite".

``reactions`` read the other party instead: how a remark landed is often
plainer than the remark ("There's no need to be rude." after a sarcasm no
example foresaw), so a reply that matches one of these regexes makes the
utterance it answers (the most remark-like of the speaker's last turn
before it) count as matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from qm.rubric.registry import CriterionKind, Verdict
from qm.rubric.spec import HASHED_WHEN_SET, CriterionSpec, RegexList, SpeakerSel, Window, compile_patterns
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
    # the other speaker's reply that shows how an utterance landed; it marks the utterance it answers
    reactions: RegexList = Field(default_factory=list, json_schema_extra=HASHED_WHEN_SET)

    @model_validator(mode="after")
    def _reactions_need_a_side(self) -> PresenceSpec:
        if self.reactions and self.speaker == "any":
            raise ValueError("reactions are the other speaker's replies: give speaker: agent or customer")
        return self

    def patterns(self) -> list[re.Pattern[str]]:
        return compile_patterns(self.regex)


class PresenceKind(CriterionKind):
    spec: PresenceSpec
    what: str = "phrase"

    def __init__(self, spec: PresenceSpec) -> None:
        super().__init__(spec)
        self._reactions = compile_patterns(spec.reactions)

    def match(self, call: CallView, utts: list[Utterance]) -> list[Match]:  # pragma: no cover
        raise NotImplementedError

    def react(self, call: CallView, results: list[Match]) -> list[Match]:
        """``results`` with the utterance each reaction answers marked as matched (``reactions``).

        A reply answers the speaker's last turn, and Whisper splits a turn into several utterances ("Well, if you
        can manage a takeaway app, you'll cope." / "I'll text you the link."): the one marked is the turn's most
        remark-like (highest similarity to the examples), the last one when nothing tells them apart."""
        if not self._reactions or not results:
            return results
        last: Utterance | None = None  # the speaker's latest utterance so far
        out = list(results)
        for u in call.utterances:
            if u.speaker == self.spec.speaker:
                last = u
            elif last is not None and any(p.search(u.text) for p in self._reactions):
                turn = [k for k, m in enumerate(out) if m.utterance.turn == last.turn and m.utterance.start <= u.start]
                if turn and not any(out[k].matched for k in turn):
                    k = max(turn, key=lambda k: (out[k].score, out[k].utterance.start, k))
                    out[k] = Match(out[k].utterance, out[k].score, True, f"the reply #{u.index} reacts to it")
        return out

    def evaluate(self, call: CallView) -> Verdict:
        s = self.spec
        spoken = call.by_speaker(s.speaker)
        if not spoken:
            return Verdict.na(f"no {s.speaker} speech")
        where = s.window.describe() if s.window else "whole call"
        pool = call.window(spoken, s.window)
        results = self.react(call, self.match(call, pool)) if pool else []
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
