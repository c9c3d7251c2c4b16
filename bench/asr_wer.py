"""WER of each bundled Whisper model on ../shared/datasets/asr, wideband and telephone band.

Usage: .venv/bin/python bench/asr_wer.py [--data ../shared/datasets/asr] [--models tiny.en base] [--beam 1]

Three conditions per model: the wideband clips as they are; the same clips resampled to 8 kHz
(a simulated phone line, written as real 8 kHz files and read back through qm's ingest); and the
native 8 kHz clips (OSR Harvard sentences, FSDD digits).  Reference: the published LibriSpeech
test-clean WER of tiny.en is 5.6 % and of base 5.0 % (Radford et al. 2022, table 2, beam 5).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.wer import wer
from qm.asr import ASROptions, Transcriber, resolve_model
from qm.audio import load_all, probe

WIDEBAND = ("ljspeech", "vctk", "librispeech", "jfk", "ami")
NARROWBAND = ("osr_8k", "fsdd_8k")
PUBLISHED = {"tiny.en": 5.6, "base": 5.0}


def to_8k(src: Path, dst: Path) -> Path:
    """Resample to 8 kHz 16-bit PCM with FFmpeg's resampler (as a phone line would band-limit)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ost = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        res = av.AudioResampler(format="s16", layout="mono", rate=8000)
        for frame in inp.decode(audio=0):
            frame.pts = None
            for f in res.resample(frame):
                out.mux(ost.encode(f))
        for f in res.resample(None):
            out.mux(ost.encode(f))
        out.mux(ost.encode(None))
    return dst


def transcribe(t: Transcriber, path: Path) -> str:
    audio = load_all(probe(path))
    mono = audio.mean(axis=0) if audio.shape[0] > 1 else audio[0]
    return "".join(w.text for w in t.transcribe(mono)).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/asr")
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--errors", action="store_true", help="print reference and hypothesis of clips with errors")
    ap.add_argument("--sets", nargs="*", help="only these subfolders (e.g. fsdd_8k ljspeech)")
    args = ap.parse_args()
    rows = list(csv.DictReader((args.data / "manifest.tsv").open(encoding="utf-8"), delimiter="\t"))
    rows = [r for r in rows if r["reference_text"].strip()]
    if args.sets:
        rows = [r for r in rows if r["path"].split("/")[0] in args.sets]
    cache = Path(tempfile.gettempdir()) / "qm-bench"
    tmp = Path(tempfile.mkdtemp(prefix="qm-wer-"))
    report: dict[str, dict] = {}
    for name in args.models:
        model = resolve_model(name, cache)
        t = Transcriber(model, options=ASROptions(beam_size=args.beam))
        conds: dict[str, dict] = {}
        for cond in ("wideband", "wideband@8k", "native 8k"):
            subset = [r for r in rows if r["path"].split("/")[0] in (NARROWBAND if cond == "native 8k" else WIDEBAND)]
            refs, hyps, audio_s = [], [], 0.0
            t0 = time.perf_counter()
            for r in subset:
                src = args.data / r["path"]
                path = to_8k(src, tmp / (src.stem + ".8k.wav")) if cond == "wideband@8k" else src
                hyps.append(transcribe(t, path))
                refs.append(r["reference_text"])
                audio_s += float(r["duration_s"])
            elapsed = time.perf_counter() - t0
            if args.errors:
                for r, h in zip(subset, hyps, strict=True):
                    if wer([r["reference_text"]], [h])[1]:
                        print(f"  [{cond}] {r['path']}\n    ref: {r['reference_text']}\n    hyp: {h}", file=sys.stderr)
            w, errs, n = wer(refs, hyps)
            if not subset:
                continue
            conds[cond] = {"wer_pct": round(100 * w, 2), "errors": errs, "ref_words": n, "clips": len(subset),
                           "audio_s": round(audio_s, 1), "rtf": round(elapsed / audio_s, 4)}
            per_set: dict[str, list] = {}
            for r, h in zip(subset, hyps, strict=True):
                per_set.setdefault(r["path"].split("/")[0], []).append((r["reference_text"], h))
            conds[cond]["per_set_wer_pct"] = {
                k: round(100 * wer([a for a, _ in v], [b for _, b in v])[0], 2) for k, v in per_set.items()
            }
        report[model.name] = {"published_librispeech_clean_wer_pct": PUBLISHED.get(name), "beam": args.beam,
                              **conds}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{'model':18} {'condition':13} {'WER %':>7} {'words':>6} {'clips':>5} {'RTF':>7}  per set")
    for m, conds in report.items():
        for cond in ("wideband", "wideband@8k", "native 8k"):
            if cond not in conds:
                continue
            c = conds[cond]
            sets = " ".join(f"{k}={v}" for k, v in c["per_set_wer_pct"].items())
            print(f"{m:18} {cond:13} {c['wer_pct']:7.2f} {c['ref_words']:6d} {c['clips']:5d} {c['rtf']:7.4f}  {sets}")
        if conds["published_librispeech_clean_wer_pct"] is not None:
            print(f"{m:18} published LibriSpeech test-clean WER: {conds['published_librispeech_clean_wer_pct']} %")


if __name__ == "__main__":
    main()
