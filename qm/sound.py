"""Where the line carries sound: frame energy of the agent side, for telling a hold from dead air.

The metrics read only word timestamps, so a 50-second hold with music looked
exactly like 50 seconds of dead air, and QA teams do not score it that way: the
customer hears the line is alive.  This module finds stretches of sustained
sound (music, recorded announcements, untranscribed speech) so ``qm.metrics``
can subtract them from silence.  Only the agent side is read on a stereo call
because hold music is played from the agent's end; noise in the customer's room
must not excuse an agent's dead air.  A mono call is read as it is.

The threshold adapts to the recording: a frame is sound when it is both above
``min_dbfs`` and ``floor_margin_db`` above the channel's noise floor (a low
percentile of frame energy), so a steady hiss or office hum is never "music".
Short bursts (a click, a cough, typing) are dropped by ``min_run_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qm.metrics import Interval, merge_intervals

BRIDGE_S = 0.5


@dataclass(frozen=True, slots=True)
class SoundOptions:
    """Documented defaults, chosen for telephone audio levelled around -20 dBFS speech."""

    frame_s: float = 0.05  # energy frame
    min_dbfs: float = -45.0  # never sound below this (line noise sits at -55 to -65 dBFS)
    floor_margin_db: float = 12.0  # ... nor within this many dB of the noise floor
    floor_percentile: float = 10.0  # the noise floor: this percentile of frame energy
    bridge_s: float = BRIDGE_S  # join sound runs separated by less (gaps between notes)
    min_run_s: float = 2.0  # keep only runs at least this long (hold music is sustained)


def frame_dbfs(samples: np.ndarray, rate: int, frame_s: float) -> np.ndarray:
    """RMS level of consecutive frames in dBFS (-120 for digital silence)."""
    hop = max(1, round(rate * frame_s))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    x = np.asarray(samples[: n * hop], dtype=np.float64).reshape(n, hop)
    rms = np.sqrt((x * x).mean(axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def sound_intervals(samples: np.ndarray, rate: int, offset_s: float = 0.0,
                    options: SoundOptions | None = None) -> list[Interval]:
    """Sustained sound in one channel (1-D float samples in [-1, 1]) as sorted, disjoint intervals."""
    opts = options or SoundOptions()
    db = frame_dbfs(samples, rate, opts.frame_s)
    if db.size == 0:
        return []
    floor = float(np.percentile(db, opts.floor_percentile))
    loud = db > max(opts.min_dbfs, floor + opts.floor_margin_db)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    loud_runs = [(offset_s + a * opts.frame_s, offset_s + b * opts.frame_s)
                 for a, b in zip(edges[::2], edges[1::2], strict=True)]
    runs = merge_intervals(loud_runs, opts.bridge_s)
    return [(float(round(s, 3)), float(round(e, 3))) for s, e in runs if e - s >= opts.min_run_s]
