"""Real-time factor of scoring one call end to end, split by stage.

Usage: .venv/bin/python bench/rtf.py [AUDIO] [--model tiny.en] [--repeat 2] [--json]

Default AUDIO is the 5-minute synthetic stereo call rendered from bench/calls/scripts/long_*.yaml
(needs espeak-ng/flite to render once).  Models are loaded and warmed before timing, so the figure is
the steady-state cost of one more call in a batch; the cold-start load time is printed separately.
The store is a temporary SQLite file; the run includes writing the redacted audio and the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SCRIPTS = Path(__file__).resolve().parent / "calls" / "scripts"
AUDIO = Path(__file__).resolve().parent / "calls" / "audio"


def default_audio() -> Path:
    from bench.synth.make_call import ensure_rendered

    longs = sorted(SCRIPTS.glob("*long*.yaml")) or sorted(SCRIPTS.glob("*5min*.yaml"))
    if not longs:
        raise SystemExit("no long call script in bench/calls/scripts")
    return ensure_rendered(longs[0], AUDIO, fmt="wav", mono=True)["stereo"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("audio", nargs="?", type=Path)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--agent-channel", default="left")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ["QM_DATA_DIR"] = tempfile.mkdtemp(prefix="qm-rtf-")
    os.environ["QM_ASR_MODEL"] = args.model
    from qm.audio import probe
    from qm.pipeline import Pipeline

    audio = args.audio or default_audio()
    info = probe(audio)
    pipe = Pipeline()
    t0 = time.perf_counter()
    from qm.demo import demo_calls

    warm = demo_calls()[0]  # loads Whisper, spaCy, the encoder and heads, and prepares the rubric
    pipe.score(warm.path, agent_id="warm", call_id="warm", save=False)
    load_s = time.perf_counter() - t0
    from qm.nlp.encoder import get_encoder, get_similarity_encoder
    runs = []
    for i in range(args.repeat):
        # a fresh SQLite store per run, so no run hits the transcript cache: every run transcribes
        run_pipe = Pipeline(pipe.settings.model_copy(
            update={"database_url": f"sqlite:///{pipe.settings.data_dir / f'run{i}.db'}"}))
        get_encoder()._cache.clear()  # no embedding reuse across runs of the same audio
        get_similarity_encoder()._cache.clear()
        t = time.perf_counter()
        scored = run_pipe.score(audio, agent_id="bench", call_id=f"rtf-{i}", agent_channel=args.agent_channel)
        wall = time.perf_counter() - t
        runs.append({"wall_s": wall, "timings": scored.timings, "utterances": len(scored.result.utterances)})
    best = min(runs, key=lambda r: r["wall_s"])
    report = {
        "audio": str(audio), "duration_s": round(info.duration_s, 2), "channels": info.channels,
        "model": args.model, "cpu_count": os.cpu_count(), "model_load_s": round(load_s, 2),
        "wall_s": round(best["wall_s"], 2), "rtf": round(best["wall_s"] / info.duration_s, 4),
        "utterances": best["utterances"],
        "stages_s": {k: round(v, 3) for k, v in best["timings"].items()},
        "stages_rtf": {k: round(v / info.duration_s, 5) for k, v in best["timings"].items()},
        "all_runs_wall_s": [round(r["wall_s"], 2) for r in runs],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{audio.name}: {info.duration_s:.1f} s, {info.channels} ch, model {args.model}, "
          f"{os.cpu_count()} cores; models loaded and warmed in {load_s:.1f} s")
    for k, v in best["timings"].items():
        print(f"  {k:15} {v:7.2f} s   RTF {v / info.duration_s:.4f}")
    print(f"  {'total':15} {best['wall_s']:7.2f} s   RTF {report['rtf']:.4f}   (runs: {report['all_runs_wall_s']})")


if __name__ == "__main__":
    main()
