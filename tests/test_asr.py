"""Whisper decoding: the deterministic re-decode of a window where greedy decoding looped.

The loop itself is the injected fault (a real loop depends on the CPU's int8 kernels, so it cannot be
reproduced on every machine); the decoding, first and second pass, is the real model on real audio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qm.asr import Transcriber, resolve_model
from qm.audio import TARGET_RATE, load_all, probe

AUDIO = Path(__file__).parent / "data" / "audio"


class LoopingTranscriber(Transcriber):
    """Reports the first greedy segment as looped (Whisper's gzip ratio far above 2.4), and optionally the
    beam-search re-decode as looping even worse."""

    redo_loops_too: bool = False

    def _segments(self, samples: np.ndarray, beam_size: int) -> Iterator[Any]:
        segs = list(super()._segments(samples, beam_size))
        if beam_size == self.options.beam_size and segs:
            segs[0] = dataclasses.replace(segs[0], compression_ratio=9.9)
        elif self.redo_loops_too:
            segs = [dataclasses.replace(s, compression_ratio=99.0) for s in segs]
        return iter(segs)


@pytest.fixture(scope="module")
def agent_channel() -> np.ndarray:
    return load_all(probe(AUDIO / "two_speaker.ogg"))[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    return resolve_model("tiny.en", tmp_path_factory.mktemp("models"))


def _text(words) -> str:
    return "".join(w.text for w in words).strip()


def test_a_looped_segment_is_replaced_by_a_beam_search_decode_of_its_span(model, agent_channel) -> None:
    plain = Transcriber(model, threads=2)
    greedy = list(plain.transcribe(agent_channel, 100.0, "agent", 0))
    assert plain.loop_redecodes == 0 and greedy

    looping = LoopingTranscriber(model, threads=2)
    first = next(iter(looping._segments(agent_channel, 1)))
    words = list(looping.transcribe(agent_channel, 100.0, "agent", 0))
    assert looping.loop_redecodes == 1

    # what beam search alone hears in the looped segment's span, shifted to where that span is in the call
    lo = int(first.start * TARGET_RATE)
    hi = int(np.ceil(first.end * TARGET_RATE))
    beam = [w for s in Transcriber(model, threads=2)._segments(agent_channel[lo:hi], 5) for w in s.words]
    span = [w for w in words if w.start < 100.0 + first.end]
    assert _text(span) == "".join(w.word for w in beam).strip()
    assert [w.start for w in span] == [round(w.start + lo / TARGET_RATE + 100.0, 3) for w in beam]
    # the segments after the loop are the greedy ones, untouched
    after = [w for w in words if w.start >= 100.0 + first.end]
    assert after == [w for w in greedy if w.start >= 100.0 + first.end]
    assert "northwind" in _text(words).lower()
    assert all(w.speaker == "agent" and w.channel == 0 for w in words)


def test_a_re_decode_that_loops_as_badly_keeps_the_first_decode(model, agent_channel) -> None:
    greedy = list(Transcriber(model, threads=2).transcribe(agent_channel))
    looping = LoopingTranscriber(model, threads=2)
    looping.redo_loops_too = True
    assert list(looping.transcribe(agent_channel)) == greedy
    assert looping.loop_redecodes == 1


def test_the_re_decode_can_be_switched_off(model, agent_channel) -> None:
    from qm.asr import ASROptions

    greedy = list(Transcriber(model, threads=2).transcribe(agent_channel))
    off = LoopingTranscriber(model, threads=2, options=ASROptions(loop_compression_ratio=0))
    assert list(off.transcribe(agent_channel)) == greedy and off.loop_redecodes == 0
