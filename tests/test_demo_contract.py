"""Every demo call, scored for real, meets the public contract and leaks no PII into the store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from qm.demo import demo_calls

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "qm" / "schema" / "call-result.schema.json"


def test_project_copy_of_the_contract_matches_shared(shared_dir: Path) -> None:
    shared = json.loads((shared_dir / "contract" / "call-result.schema.json").read_text())
    assert json.loads(SCHEMA_PATH.read_text()) == shared


@pytest.fixture(scope="module")
def scored_demo(tmp_path_factory: pytest.TempPathFactory):
    from qm.config import Settings
    from qm.pipeline import Pipeline

    data = tmp_path_factory.mktemp("demo")
    pipe = Pipeline(Settings(data_dir=data, database_url=f"sqlite:///{data / 'qm.db'}"))
    return pipe, [(c, pipe.score(c.path, agent_id=c.agent_id, call_id=c.call_id, rubric=c.rubric,
                                 agent_channel=c.agent_channel)) for c in demo_calls()]


def test_every_demo_call_meets_the_contract(scored_demo) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    pipe, results = scored_demo
    assert len(results) >= 5
    for call, scored in results:
        doc = scored.to_contract()
        validator.validate(doc)
        assert doc["call_id"] == call.call_id
        assert doc["utterances"], call.call_id
        assert {u["speaker"] for u in doc["utterances"]} == {"agent", "customer"}
        assert doc["criteria"], call.call_id
        stored = pipe.store.get_result(call.call_id)
        assert stored == json.loads(json.dumps(doc))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_no_card_number_reaches_the_store(scored_demo) -> None:
    from qm.store.db import session_scope
    from qm.store.models import Transcript, UtteranceRow

    pipe, results = scored_demo
    payment = [s for c, s in results if "card" in c.call_id]
    assert payment and payment[0].result.redactions >= 1
    card = "4532015112830366"  # read aloud in qm/demo/scripts/03_payment_card.yaml
    with session_scope(pipe.store.engine) as s:
        texts = [u.text for u in s.scalars(select(UtteranceRow))]
        tokens = json.dumps([t.tokens for t in s.scalars(select(Transcript))])
    everything = _digits(" ".join(texts)) + _digits(tokens)
    for i in range(len(card) - 7):
        assert card[i:i + 8] not in everything, "eight consecutive card digits were stored"
    assert payment[0].redacted_audio is not None and payment[0].redacted_audio.exists()
