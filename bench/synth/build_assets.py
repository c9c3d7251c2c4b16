"""Rebuild every synthetic recording qm ships or measures with, from the committed scripts.

Three sets, three destinations:

* ``demo``     qm/demo/scripts/*.yaml  -> qm/demo/audio/*.ogg + *.json and qm/demo/calls.json (committed)
* ``fixtures`` tests/data/audio/scripts/*.yaml -> tests/data/audio/ (committed, each file < 100 KB)
* ``bench``    bench/calls/<set>/*.yaml (every labelled set) -> bench/calls/audio/ (NOT committed; rebuilt on demand)

Usage: ``.venv/bin/python -m bench.synth.build_assets {demo,fixtures,bench,all}``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from bench.labelled_sets import scripts as labelled_scripts
from bench.synth.make_call import (
    ScriptError,
    TTSError,
    ensure_rendered,
    load_script,
    render,
    tts_available,
    write_outputs,
    write_wav,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO_SCRIPTS = ROOT / "qm" / "demo" / "scripts"
DEMO_AUDIO = ROOT / "qm" / "demo" / "audio"
DEMO_CATALOG = ROOT / "qm" / "demo" / "calls.json"
FIXTURE_DIR = ROOT / "tests" / "data" / "audio"
BENCH_AUDIO = ROOT / "bench" / "calls" / "audio"
FIXTURE_MAX_BYTES = 100 * 1024
SILENCE_S = 3.0


def build_demo() -> list[dict[str, object]]:
    """Stereo Ogg/Opus only (no mono mix): the demo must stay small inside the wheel."""
    catalog: list[dict[str, object]] = []
    for path in sorted(DEMO_SCRIPTS.glob("*.yaml")):
        call = render(load_script(path))
        paths = write_outputs(call, DEMO_AUDIO, fmt="ogg", mono=False, bitrate_kbps=16)
        catalog.append(
            {
                "file": f"audio/{paths['stereo'].name}",
                "truth": f"audio/{paths['truth'].name}",
                "call_id": call.script.call_id,
                "agent_id": call.script.agent_id,
                "agent_channel": call.script.agent_channel,
                "duration_s": call.truth["duration"],
                "description": call.script.description,
            }
        )
        rubric = yaml.safe_load(path.read_text(encoding="utf-8")).get("rubric")
        if rubric:  # the demo command scores this call with a rubric other than the default
            catalog[-1]["rubric"] = rubric
        _report(paths.values())
    DEMO_CATALOG.write_text(json.dumps({"calls": catalog}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {DEMO_CATALOG.relative_to(ROOT)} ({len(catalog)} calls)")
    return catalog


def build_fixtures() -> None:
    """Tiny committed inputs for the pipeline tests; the silence file is exact zeros, so it is WAV."""
    for path in sorted((FIXTURE_DIR / "scripts").glob("*.yaml")):
        call = render(load_script(path))
        # The two-speaker call also gets a mono mix: the diarisation path needs the same words, mixed.
        mono = call.script.call_id == "two_speaker"
        paths = write_outputs(call, FIXTURE_DIR, fmt="ogg", mono=mono, bitrate_kbps=16)
        _report(paths.values(), limit=FIXTURE_MAX_BYTES)
    silence = FIXTURE_DIR / "silence_3s.wav"
    write_wav(silence, np.zeros((round(SILENCE_S * 8000), 2), dtype=np.float32), 8000)
    _report([silence], limit=FIXTURE_MAX_BYTES)


def build_bench(out_dir: Path = BENCH_AUDIO) -> list[dict[str, Path]]:
    """WAV + mono mix per bench script; skips calls already rendered from the same script bytes."""
    out: list[dict[str, Path]] = []
    for path in labelled_scripts("all"):
        paths = ensure_rendered(path, out_dir, fmt="wav", mono=True)
        out.append(paths)
        _report(paths.values())
    return out


def _report(paths: object, limit: int | None = None) -> None:
    for p in paths:  # type: ignore[attr-defined]
        size = Path(p).stat().st_size
        flag = f"  TOO BIG (> {limit} bytes)" if limit is not None and size > limit else ""
        print(f"  {Path(p).relative_to(ROOT) if Path(p).is_relative_to(ROOT) else p}  {size} B{flag}")
        if flag:
            raise SystemExit(f"error: {p} is {size} bytes, over the {limit}-byte fixture limit")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build_assets", description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=("demo", "fixtures", "bench", "all"))
    ap.add_argument("--bench-out", type=Path, default=BENCH_AUDIO, help="where bench audio goes")
    args = ap.parse_args(argv)
    if not tts_available("espeak-ng") or not tts_available("flite"):
        print("error: espeak-ng and flite must be installed (apt-get install espeak-ng flite)", file=sys.stderr)
        return 2
    try:
        if args.target in ("demo", "all"):
            build_demo()
        if args.target in ("fixtures", "all"):
            build_fixtures()
        if args.target in ("bench", "all"):
            build_bench(args.bench_out)
    except (ScriptError, TTSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
