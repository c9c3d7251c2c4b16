"""Sound on the line (qm.sound): hold music is found, hiss, hum and clicks are not."""

from __future__ import annotations

import numpy as np
import pytest
from audio_factory import hold_loop

from qm.metrics import merge_intervals
from qm.sound import BRIDGE_S, frame_dbfs, sound_intervals

RATE = 8000


def noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (dbfs / 20)).astype(np.float32)


def level(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x / np.sqrt(np.mean(x ** 2)) * 10 ** (dbfs / 20)).astype(np.float32)


def speechlike(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return level(np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)), -20)


def test_frame_levels_are_in_dbfs() -> None:
    db = frame_dbfs(level(np.sin(np.arange(RATE) / 3.0), -20.0), RATE, 0.05)
    assert db.shape == (20,) and np.allclose(db, -20.0, atol=0.2)
    assert frame_dbfs(np.zeros(10), RATE, 0.05).size == 0


def test_hold_music_between_speech_is_found_over_a_noise_floor() -> None:
    x = np.concatenate([speechlike(3), np.zeros(4 * RATE, np.float32), hold_loop(20, RATE),
                        np.zeros(3 * RATE, np.float32), speechlike(3)])
    x = x + noise(len(x) / RATE, -60)
    found = sound_intervals(x, RATE, offset_s=100.0)
    assert len(found) == 3
    (s0, e0), (s1, e1), (s2, e2) = found
    assert s0 == pytest.approx(100.0, abs=0.1) and e0 == pytest.approx(103.0, abs=0.1)
    assert s1 == pytest.approx(107.0, abs=0.1) and e1 == pytest.approx(127.0, abs=0.6)  # last note decays
    assert s2 == pytest.approx(130.0, abs=0.1) and e2 == pytest.approx(133.0, abs=0.1)
    assert all(isinstance(v, float) for iv in found for v in iv)  # stored as JSON


@pytest.mark.parametrize("case", ["hiss", "hum", "clicks", "silence"])
def test_what_is_not_sound(case: str) -> None:
    if case == "hiss":  # line noise, well above digital silence but below any hold music
        x = noise(30, -52)
    elif case == "hum":  # a steady hum is the floor, whatever its level
        t = np.arange(30 * RATE) / RATE
        x = level(np.sin(2 * np.pi * 50 * t), -38)
    elif case == "clicks":  # typing: loud but short
        x = np.zeros(30 * RATE, np.float32)
        for k in range(30):
            x[k * RATE: k * RATE + 400] = 0.5
    else:
        x = np.zeros(30 * RATE, np.float32)
    assert sound_intervals(x, RATE) == []


def test_runs_cut_at_a_window_edge_are_rejoined() -> None:
    assert merge_intervals([(0.0, 10.0), (10.2, 30.0), (40.0, 45.0)], BRIDGE_S) == [(0.0, 30.0), (40.0, 45.0)]
    assert merge_intervals([], BRIDGE_S) == []
