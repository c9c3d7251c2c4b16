"""How well Whisper understands each synthetic voice, measured on a neutral passage.

Usage: .venv/bin/python -m bench.voice_intelligibility [--max-wer 0.15] [--json]

The labelled bench calls are spoken by espeak-ng and flite voices.  Some of those voices (espeak-ng's
regional accent variants above all) come out of tiny.en at 30-95 % WER, so a rubric miss on such a
call mostly measures the robot voice, not the rubric.  This bench renders one fixed passage (customer
-service wording that appears in no labelled call) with every candidate voice at the bench call rate
(8 kHz), transcribes it with qm's own ASR settings and prints WER per voice.  New labelled call sets
pick their voices from the ones under ``--max-wer``: the choice is made on intelligibility alone,
before and independently of any rubric outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synth.make_call import DEFAULT_SAMPLE_RATE, TTSError, Voice, speak_turn, tts_available
from bench.wer import wer

PASSAGE = (
    "Good afternoon, you have reached the billing team. I can see the payment from last Tuesday "
    "went through twice, so I will send the extra amount back to your card today. It usually takes "
    "three to five working days to appear. Is the email address on the account still the best way "
    "to reach you? Lovely, I have also added a note so nobody charges you again next month."
)

ESPEAK_BASES = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-us-nyc", "en-029",
                "en-gb-x-gbclan", "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5")
FLITE = (("slt", None), ("slt", 180), ("slt", 230), ("rms", None), ("rms", 95), ("rms", 120),
         ("awb", None), ("awb", 90), ("kal16", None), ("kal16", 140), ("kal", None))


def candidates() -> list[Voice]:
    voices: list[Voice] = []
    if tts_available("espeak-ng"):
        voices += [Voice("espeak-ng", base + var) for base in ESPEAK_BASES for var in ESPEAK_VARIANTS]
    if tts_available("flite"):
        voices += [Voice("flite", name, pitch=pitch) for name, pitch in FLITE]
    return voices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-wer", type=float, default=0.15, help="list voices at or under this WER (%(default)s)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from scipy.signal import resample_poly

    from qm.pipeline import Pipeline

    pipe = Pipeline()
    s, asr = pipe.settings, pipe.transcriber
    rows: list[dict[str, object]] = []
    for voice in candidates():
        try:
            pcm = speak_turn(PASSAGE, voice, DEFAULT_SAMPLE_RATE)
        except TTSError as exc:
            rows.append({"voice": voice.describe(), "error": str(exc)})
            continue
        audio16 = resample_poly(pcm, 2, 1).astype(np.float32) if DEFAULT_SAMPLE_RATE == 8000 else pcm
        hyp = "".join(w.text for w in asr.transcribe(audio16))
        rows.append({"voice": voice.describe(), "wer": round(wer([PASSAGE], [hyp])[0], 3)})
    ok = sorted((r for r in rows if "wer" in r and float(r["wer"]) <= args.max_wer), key=lambda r: r["wer"])
    if args.json:
        print(json.dumps({"asr_model": s.asr_model, "max_wer": args.max_wer, "voices": rows}, indent=2))
        return
    print(f"ASR {s.asr_model}; passage of {len(PASSAGE.split())} words at {DEFAULT_SAMPLE_RATE} Hz")
    for r in sorted(rows, key=lambda r: float(r.get("wer", 9))):
        print(f"  {r['voice']:<36} {'error: ' + str(r['error']) if 'error' in r else format(r['wer'], '.1%')}")
    print(f"{len(ok)} of {len(rows)} voices at or under {args.max_wer:.0%} WER")


if __name__ == "__main__":
    main()
