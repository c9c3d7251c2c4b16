"""Speaker separation for mono (mixed) recordings, with agent/customer role assignment.

Telephone calls have exactly two parties, so the problem is a two-way split: words are grouped
into short single-speaker segments at pauses and sentence ends, each segment gets an acoustic
voice print (log-mel statistics and median pitch), the prints are clustered in two, and the
roles are assigned from what each cluster *says* (who greets and names the company, who asks
"is there anything else").  When the acoustic split or the role evidence is weak, the speaker
is reported as ``unknown`` rather than guessed: a wrong role corrupts every agent metric.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from qm.types import Speaker, Word

RATE = 16_000

AGENT_CUES = [
    r"thank(s| you) for (calling|contacting|holding|your patience)", r"\bmy name is\b", r"\bthis is \w+ speaking\b",
    r"how (can|may) i (help|assist)", r"\bis there anything else\b",
    r"\bhave a (great|good|nice|wonderful) (day|evening)\b",
    r"\bcan i (have|get|confirm) your\b", r"\bfor security\b", r"\bverify\b", r"\bi('ll| will) (check|look|transfer)\b",
    r"\bplease hold\b", r"\bi apologi[sz]e\b", r"\bi('m| am) sorry (to hear|for the)\b", r"\bwelcome to\b",
    r"\bspeaking\b", r"\bhow can i\b",
]
CUSTOMER_CUES = [
    r"\bi('m| am) calling (about|because|to)\b", r"\bmy (bill|account|order|card|package|internet|payment)\b",
    r"\bi (need|want|have) (a|an|to)\b", r"\bi('ve| have) been (waiting|charged|trying)\b", r"\bmy name'?s\b",
    r"\bhi,? (yes|yeah)\b", r"\bthat'?s (all|it)\b", r"\bno,? thanks?\b", r"\bcan you (help|tell)\b",
    r"\bwhy (is|was|did|are)\b",
]


@dataclass(frozen=True, slots=True)
class DiarizationOptions:
    """Tunable parameters (pyannote-style); defaults chosen on synthetic two-voice calls."""

    window_s: float = 0.8  # voice-print window
    hop_s: float = 0.2
    smooth_s: float = 0.5  # median filter over frame labels
    min_separation: float = 0.08  # mean silhouette below this: the voices are not told apart -> unknown
    min_role_evidence: float = 1.0  # cue-score margin needed to name the agent cluster
    min_word_margin: float = 0.05  # relative distance margin between the two voices to label a word


@dataclass(frozen=True, slots=True)
class DiarizationReport:
    separation: float
    role_margin: float
    agent_cluster: int | None
    windows: int
    unknown_words: int


HOP = 160  # 10 ms frames
N_FFT = 512


def _mel_filterbank(n_fft: int, n_mels: int = 40, fmin: float = 60.0, fmax: float = 3800.0) -> np.ndarray:
    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.floor((n_fft + 1) * hz / RATE).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(1, n_mels + 1):
        lo, c, hi = bins[m - 1], bins[m], bins[m + 1]
        fb[m - 1, lo:c] = (np.arange(lo, c) - lo) / max(c - lo, 1)
        fb[m - 1, c:hi] = (hi - np.arange(c, hi)) / max(hi - c, 1)
    return fb


_FB = _mel_filterbank(N_FFT)


def frame_features(mono: np.ndarray, block: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per 10 ms frame: 40 log-mel energies, log pitch (0 when unvoiced) and frame energy (dB).

    Computed in blocks of frames so a long window never materialises one huge frame matrix.
    """
    if mono.size < N_FFT:
        mono = np.pad(mono, (0, N_FFT - mono.size))
    count = 1 + (mono.size - N_FFT) // HOP
    win = np.hanning(N_FFT).astype(np.float32)
    lo, hi = RATE // 400, RATE // 60
    mels, pitch, energy = [], [], []
    for s in range(0, count, block):
        idx = np.arange(N_FFT)[None, :] + HOP * np.arange(s, min(count, s + block))[:, None]
        frames = mono[idx]
        spec = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2
        mels.append(np.log(spec @ _FB.T + 1e-8))
        energy.append(10 * np.log10((frames**2).mean(axis=1) + 1e-10))
        centred = frames - frames.mean(axis=1, keepdims=True)
        ac = np.fft.irfft(np.abs(np.fft.rfft(centred, 2 * N_FFT, axis=1)) ** 2, axis=1)[:, :N_FFT]
        lag = np.argmax(ac[:, lo:hi], axis=1) + lo
        peak = ac[np.arange(len(lag)), lag] / (ac[:, 0] + 1e-10)
        pitch.append(np.where(peak > 0.4, np.log(RATE / lag), 0.0))
    return np.concatenate(mels), np.concatenate(pitch), np.concatenate(energy)


# after standardising, pitch alone weighs as much as the 80 spectral dimensions together: it is the
# most robust single cue separating two telephone voices, the spectrum settles same-pitch pairs
_WEIGHTS = np.concatenate([np.full(80, 1.0), [np.sqrt(80.0)]]).astype(np.float32)


def _cue_score(text: str, cues: list[str]) -> int:
    t = text.lower()
    return sum(1 for c in cues if re.search(c, t))


def _median_filter(labels: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or labels.size == 0:
        return labels
    pad = width // 2
    padded = np.pad(labels.astype(float), pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return (windows.mean(axis=1) > 0.5).astype(int)


def _smooth_words(words: Sequence[Word], labels: list[int | None]) -> list[int | None]:
    """A word whose neighbours both belong to the other voice, with no pause around it, joins them:
    one word rarely is a whole turn.  Unlabelled words inside a same-voice run take that voice."""
    out = list(labels)
    for i in range(1, len(words) - 1):
        prev, nxt = out[i - 1], labels[i + 1]
        close = words[i].start - words[i - 1].end < 0.25 and words[i + 1].start - words[i].end < 0.25
        if prev is not None and prev == nxt and out[i] != prev and close:
            out[i] = prev
    return out


def diarize(words: Sequence[Word], mono: np.ndarray, offset_s: float = 0.0,
            options: DiarizationOptions | None = None) -> tuple[list[Word], DiarizationReport]:
    """Assign agent/customer/unknown to each word of a mono recording window."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    o = options or DiarizationOptions()
    words = list(words)
    unknown = [replace(w, speaker="unknown") for w in words]
    if not words:
        return [], DiarizationReport(0.0, 0.0, None, 0, 0)
    mel, pitch, energy = frame_features(mono)
    n = len(energy)
    speech = np.zeros(n, dtype=bool)
    for w in words:  # speech frames = frames inside recognised words that are not near-silent
        a = int((w.start - offset_s) * 100)
        b = int((w.end - offset_s) * 100) + 1
        speech[max(a, 0):min(b, n)] = True
    speech &= energy > np.percentile(energy[speech], 20) if speech.any() else speech
    win, hop = int(o.window_s * 100), int(o.hop_s * 100)
    starts = [s for s in range(0, max(n - win, 0) + 1, hop) if speech[s:s + win].mean() > 0.5]
    if len(starts) < 4:
        return unknown, DiarizationReport(0.0, 0.0, None, len(starts), len(words))
    feats = []
    for s in starts:
        m = speech[s:s + win]
        seg, p = mel[s:s + win][m], pitch[s:s + win][m]
        voiced = p[p > 0]
        feats.append(np.concatenate([seg.mean(0), seg.std(0), [np.median(voiced) * 6 if voiced.size else 0.0]]))
    X = np.asarray(feats)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Xs = (X - mu) / sd * _WEIGHTS
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(Xs)
    win_labels = km.labels_
    if len(set(win_labels.tolist())) < 2:
        return unknown, DiarizationReport(0.0, 0.0, None, len(starts), len(words))
    separation = float(silhouette_score(Xs, win_labels))
    centres = km.cluster_centers_
    word_lab: list[int | None] = []
    for w in words:
        # each word is classified on its own frames, so a speaker change between two words is
        # not blurred by a window straddling it; very short words borrow 0.15 s of context
        mid = ((w.start + w.end) / 2 - offset_s) * 100
        half = max((w.end - w.start) * 50, 15)
        a, b = max(int(mid - half), 0), min(int(mid + half) + 1, n)
        m = speech[a:b]
        if m.sum() < 5:
            word_lab.append(None)
            continue
        seg, p = mel[a:b][m], pitch[a:b][m]
        voiced = p[p > 0]
        f = np.concatenate([seg.mean(0), seg.std(0), [np.median(voiced) * 6 if voiced.size else 0.0]])
        d = np.linalg.norm((f - mu) / sd * _WEIGHTS - centres, axis=1)
        conf = (max(d) - min(d)) / (max(d) + 1e-6)
        word_lab.append(int(np.argmin(d)) if conf >= o.min_word_margin else None)
    word_lab = _smooth_words(words, word_lab)
    # roles from what each cluster says, over runs of consecutive same-cluster words
    score = [0.0, 0.0]
    run_text: list[str] = []
    run_lab: int | None = None
    first_lab = next((lab for lab in word_lab if lab is not None), None)
    for w, lab in [*zip(words, word_lab, strict=True), (None, None)]:
        if lab != run_lab or w is None:
            if run_lab is not None and run_text:
                t = "".join(run_text)
                score[run_lab] += _cue_score(t, AGENT_CUES) - _cue_score(t, CUSTOMER_CUES)
            run_text, run_lab = [], lab
        if w is not None:
            run_text.append(w.text)
    if first_lab is not None:
        score[first_lab] += 0.5  # the first voice on an inbound call is usually the agent's greeting
    margin = abs(score[0] - score[1])
    agent_cluster = 0 if score[0] > score[1] else 1
    if separation < o.min_separation or margin < o.min_role_evidence:
        return unknown, DiarizationReport(separation, margin, None, len(starts), len(words))
    out: list[Word] = []
    n_unknown = 0
    for w, lab in zip(words, word_lab, strict=True):
        spk: Speaker = "unknown" if lab is None else ("agent" if lab == agent_cluster else "customer")
        n_unknown += spk == "unknown"
        out.append(replace(w, speaker=spk))
    return out, DiarizationReport(separation, margin, agent_cluster, len(starts), n_unknown)
