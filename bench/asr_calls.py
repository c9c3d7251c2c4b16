"""Per-channel word error rate of Whisper on the labelled bench calls (synthetic voices, 8 kHz stereo).

Usage: .venv/bin/python bench/asr_calls.py [--set blind11 --set blind12] [--model tiny.en|base|DIR]
       [--beam N] [--hotwords "phrase list"] [--loop-ratio R] [--json]

The rubric benches lose most of their misses to Whisper on the synthetic voices; this bench separates
that from the rubric by scoring only the transcripts (agent and customer channel, corpus WER with
``bench.wer``'s normalisation), for comparing models and decoding options on the same calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.labelled_sets import CALLS, SETS
from bench.labelled_sets import scripts as set_scripts
from bench.synth.make_call import ensure_rendered, load_script
from bench.wer import wer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="sets", action="append", choices=sorted(SETS), help="labelled set(s)")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--hotwords", default=None)
    ap.add_argument("--loop-ratio", type=float, default=None,
                    help="compression ratio above which a looped segment is decoded again with beam search "
                         "(ASROptions.loop_compression_ratio; 0 = never)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from qm.asr import ASROptions, Transcriber, resolve_model
    from qm.audio import load_all, probe
    from qm.config import get_settings

    s = get_settings()
    model = resolve_model(args.model, s.data_dir, s.allow_download)
    tr = Transcriber(model, s.asr_compute_type, s.asr_threads,
                     dataclasses.replace(ASROptions(), beam_size=args.beam, hotwords=args.hotwords,
                                         **({} if args.loop_ratio is None else
                                            {"loop_compression_ratio": args.loop_ratio})))
    refs: dict[str, list[str]] = {"agent": [], "customer": []}
    hyps: dict[str, list[str]] = {"agent": [], "customer": []}
    t0, audio_s = time.perf_counter(), 0.0
    for path in [p for name in (args.sets or ["blind11", "blind12"]) for p in set_scripts(name)]:
        script = load_script(path)
        info = probe(ensure_rendered(path, CALLS / "audio", fmt="wav", mono=True)["stereo"])
        audio_s += info.duration_s
        x = load_all(info)
        agent = 0 if script.agent_channel == "left" else 1
        for speaker, ch in (("agent", agent), ("customer", 1 - agent)):
            refs[speaker].append(" ".join(t.text for t in script.turns if t.speaker == speaker))
            hyps[speaker].append("".join(w.text for w in tr.transcribe(x[ch])))
    out = {"model": model.name, "beam": args.beam, "hotwords": args.hotwords,
           "loop_ratio": tr.options.loop_compression_ratio, "loop_redecodes": tr.loop_redecodes,
           "calls": len(refs["agent"]),
           "wer": {k: round(wer(refs[k], hyps[k])[0], 4) for k in refs},
           "real_time_factor": round((time.perf_counter() - t0) / max(audio_s, 1e-9), 4)}
    print(json.dumps(out, indent=2) if args.json else
          f"{out['model']} beam {out['beam']} hotwords {bool(out['hotwords'])}: {out['calls']} calls, agent WER "
          f"{out['wer']['agent']:.1%}, customer WER {out['wer']['customer']:.1%}, RTF {out['real_time_factor']:.3f}, "
          f"{out['loop_redecodes']} looped runs decoded again (ratio {out['loop_ratio']:g})")


if __name__ == "__main__":
    main()
