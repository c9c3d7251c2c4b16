"""The store on SQLite and PostgreSQL: idempotent re-scoring, conflicts, all-or-nothing writes."""

from __future__ import annotations

import pytest

from qm.errors import StoreError
from qm.store import Store
from qm.store.models import Call, CriterionRow, Result, Transcript, UtteranceRow
from qm.types import (
    AudioInfo,
    CallResult,
    CoachingItem,
    CriterionResult,
    Empathy,
    Metrics,
    Sentiment,
    Utterance,
    UtteranceLabels,
)


def make_result(call_id: str = "c1", sha: str = "a" * 64, score: float = 75.0, version: str = "v1") -> CallResult:
    lab = UtteranceLabels(Sentiment("neutral", 0.0), "neutral", Empathy(False, 0.1), None)
    utts = [
        Utterance(0, "agent", 0.0, 1.5, "Thanks for calling.", 0, 3, lab),
        Utterance(1, "customer", 2.0, 3.0, "My card is [CARD].", 1, 4, lab),
    ]
    return CallResult(
        call_id=call_id, agent_id="A1",
        audio=AudioInfo("/x.wav", 3.0, 2, 8000, sha, "pcm_s16le", "wav"),
        asr_model="whisper-tiny.en", language="en", utterances=utts,
        metrics=Metrics(0.5, 0.2, 0.5, 0.0, 120.0, "neutral", "neutral"),
        rubric_id="default", rubric_version=version,
        criteria=[CriterionResult("greeting", "Greeting", True, 10, 10, False, [0], "greeting"),
                  CriterionResult("empathy", "Empathy", None, 0, 0, False, [], "empathy")],
        score=score, auto_failed=False, coaching=[CoachingItem("empathy", "missed", [])], redactions=1,
    )


def save(store: Store, r: CallResult) -> None:
    store.save(r, layout="agent=0,customer=1", source_uri="/x.wav", transcript_tokens=[{"speaker": "agent",
               "tokens": [[" Thanks", 0.0, 0.5, None]]}], nlp_version="n1")


def test_save_and_read_back(db_url: str) -> None:
    store = Store(db_url)
    save(store, make_result())
    doc = store.get_result("c1")
    assert doc is not None
    assert doc["call_id"] == "c1"
    assert doc["utterances"][1]["text"] == "My card is [CARD]."
    assert doc["criteria"][1]["passed"] is None
    assert store.count(UtteranceRow) == 2
    assert store.count(CriterionRow) == 2
    assert store.get_transcript("a" * 64, "whisper-tiny.en", "agent=0,customer=1") is not None


def test_sound_is_kept_with_the_transcript(db_url: str) -> None:
    store = Store(db_url)
    save(store, make_result())  # an old-style save: no sound known
    assert store.get_transcript("a" * 64, "whisper-tiny.en", "agent=0,customer=1")[2] is None
    store.save(make_result(), layout="agent=0,customer=1", source_uri="/x.wav", transcript_tokens=[],
               nlp_version="n1", sound=[[12.5, 60.25]])
    assert store.get_transcript("a" * 64, "whisper-tiny.en", "agent=0,customer=1")[2] == [[12.5, 60.25]]
    found = store.find_transcript_for_call("c1")
    assert found is not None and found[1].sound == [[12.5, 60.25]]


def test_rescoring_updates_in_place(db_url: str) -> None:
    store = Store(db_url)
    save(store, make_result(score=50.0))
    save(store, make_result(score=80.0))
    assert store.count(Call) == 1
    assert store.count(Result) == 1
    assert store.count(UtteranceRow) == 2
    assert store.count(CriterionRow) == 2
    assert store.count(Transcript) == 1
    assert store.get_result("c1")["score"] == 80.0


def test_new_rubric_version_keeps_history(db_url: str) -> None:
    store = Store(db_url)
    save(store, make_result(version="v1"))
    save(store, make_result(version="v2", score=10.0))
    assert store.count(Result) == 2
    assert store.get_result("c1")["rubric"]["version"] == "v2"


def test_same_call_id_with_different_audio_is_refused(db_url: str) -> None:
    store = Store(db_url)
    save(store, make_result(sha="a" * 64))
    with pytest.raises(StoreError, match="already holds different audio"):
        save(store, make_result(sha="b" * 64))
    assert store.get_result("c1")["audio"]["sha256"] == "a" * 64


def test_failed_write_leaves_nothing_half_written(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import qm.store.repository as repo

    store = Store(db_url)

    def disk_full(**_kw: object) -> None:  # injected fault: the last insert of the transaction fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo, "CriterionRow", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        save(store, make_result(call_id="c2"))
    assert store.count(Call) == 0
    assert store.count(UtteranceRow) == 0
    assert store.get_result("c2") is None


def test_failures_are_recorded(db_url: str) -> None:
    store = Store(db_url)
    store.record_failure("/in/bad.wav", "probe", "/in/bad.wav: empty file (0 bytes)")
    rows = store.failures()
    assert rows[0]["reason"].endswith("empty file (0 bytes)")
    assert rows[0]["stage"] == "probe"


def test_migrations_are_idempotent(db_url: str) -> None:
    from qm.store.db import get_engine, migrate

    Store(db_url)
    migrate(get_engine(db_url))  # second run is a no-op, not an error
    assert Store(db_url).count(Call) == 0


def test_a_transcript_redacted_another_way_is_not_reused_and_is_replaced(db_url: str) -> None:
    """A redactor upgrade must reach old recordings: their stored tokens (maybe holding a name the old
    redactor missed) are not served from the cache, and the re-transcribed tokens replace them."""
    store = Store(db_url)
    key = ("a" * 64, "whisper-tiny.en", "agent=0,customer=1")
    store.save(make_result(), layout=key[2], source_uri="/x.wav", nlp_version="n1", redaction="v1:CARD",
               transcript_tokens=[{"speaker": "customer", "tokens": [[" It's", 0.0, 0.2, None],
                                                                     [" Marcus", 0.2, 0.5, None]]}])
    assert store.get_transcript(*key, redaction="v1:CARD") is not None
    assert store.get_transcript(*key, redaction="v2:CARD,NAME") is None
    assert store.get_transcript(*key) is not None  # no key asked for: any stored transcript (qm rescore)
    store.save(make_result(), layout=key[2], source_uri="/x.wav", nlp_version="n1", redaction="v2:CARD,NAME",
               transcript_tokens=[{"speaker": "customer", "tokens": [[" It's", 0.0, 0.2, None],
                                                                     [" [NAME]", 0.2, 0.5, "NAME"]]}])
    assert store.count(Transcript) == 1
    _, tokens, _ = store.get_transcript(*key, redaction="v2:CARD,NAME")
    assert "Marcus" not in str(tokens)
    # a re-score from the stored tokens (no redaction given) keeps the key they were stored with
    save(store, make_result())
    assert store.get_transcript(*key, redaction="v2:CARD,NAME") is not None


def test_the_migrated_schema_has_every_column_the_models_use(db_url: str) -> None:
    """A model column without a migration (like transcripts.redaction before 0004) fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from qm.store.db import get_engine
    from qm.store.models import Base

    Store(db_url)
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    missing = [d for d in diff if d[0] in ("add_column", "add_table")]
    assert missing == []
