"""The bundled demo calls (synthetic two-voice calls; see qm/demo/README.md for how they are made)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEMO_DIR = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class DemoCall:
    call_id: str
    agent_id: str
    path: Path
    agent_channel: str
    description: str
    rubric: str | None = None


def demo_calls() -> list[DemoCall]:
    data = json.loads((DEMO_DIR / "calls.json").read_text(encoding="utf-8"))
    entries = data["calls"] if isinstance(data, dict) else data
    return [
        DemoCall(e["call_id"], e["agent_id"], DEMO_DIR / e["file"], e.get("agent_channel", "left"),
                 e.get("description", ""), e.get("rubric"))
        for e in entries
    ]
