"""Utterance labeller: real encoder, real spaCy, the committed heads in models/heads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qm.errors import QMError
from qm.nlp.heads import HEAD_NAMES, HeadLoadError, HFHead, previous_other_turn
from qm.nlp.labeller import EMPTY_LABELS, Labeller, get_labeller
from qm.nlp.questions import FEATURE_NAMES, syntax_features
from qm.types import UtteranceLabels

ROOT = Path(__file__).resolve().parent.parent
HEADS = ROOT / "models" / "heads"
F = {n: i for i, n in enumerate(FEATURE_NAMES)}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def labeller() -> Labeller:
    return get_labeller(HEADS)


def one(labeller: Labeller, text: str, speaker: str = "agent") -> UtteranceLabels:
    return labeller.label([text], [speaker])[0]


def _valid(lab: UtteranceLabels) -> None:
    assert lab.sentiment.label in ("negative", "neutral", "positive")
    assert -1.0 <= lab.sentiment.score <= 1.0
    assert lab.emotion is None or lab.emotion in ("anger", "anxiety", "sadness", "joy", "confusion",
                                                  "surprise", "neutral")
    assert isinstance(lab.empathy.label, bool)
    assert 0.0 <= lab.empathy.score <= 1.0
    assert lab.question in (None, "open", "closed")


# ---- clear cases ---------------------------------------------------------------------------

def test_empathy_clear_case_after_a_complaint(labeller: Labeller) -> None:
    labs = labeller.label(
        ["My internet has been down for three days and nobody has called me back.",
         "I'm so sorry to hear that, that must be really frustrating."],
        ["customer", "agent"],
    )
    assert labs[1].empathy.label is True
    assert labs[1].empathy.score > 0.5


def test_empathy_clear_case_alone(labeller: Labeller) -> None:
    assert one(labeller, "I'm so sorry to hear that, that must be really frustrating.").empathy.label is True


def test_procedural_sentence_is_not_empathy(labeller: Labeller) -> None:
    lab = one(labeller, "Your account number is on the top right of the invoice.")
    assert lab.empathy.label is False


def test_open_question(labeller: Labeller) -> None:
    assert one(labeller, "What brought you in today?").question == "open"


def test_tell_me_about_counts_as_open(labeller: Labeller) -> None:
    assert one(labeller, "Tell me a bit more about what happened when the router dropped.").question == "open"


def test_closed_question(labeller: Labeller) -> None:
    assert one(labeller, "Did you restart the router?").question == "closed"


def test_statement_is_not_a_question(labeller: Labeller) -> None:
    assert one(labeller, "I restarted the router this morning.", "customer").question is None


def test_negative_sentiment(labeller: Labeller) -> None:
    lab = one(labeller, "This is ridiculous, I've been waiting for an hour!", "customer")
    assert lab.sentiment.label == "negative"
    assert lab.sentiment.score < 0
    assert lab.emotion == "anger"


def test_positive_sentiment(labeller: Labeller) -> None:
    lab = one(labeller, "Thank you so much, that was really helpful!", "customer")
    assert lab.sentiment.label == "positive"
    assert lab.sentiment.score > 0


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\u200b"])
def test_empty_and_whitespace_get_the_defined_empty_label(labeller: Labeller, text: str) -> None:
    assert one(labeller, text) == EMPTY_LABELS


def test_empty_list(labeller: Labeller) -> None:
    assert labeller.label([], []) == []


def test_length_mismatch_is_a_clear_error(labeller: Labeller) -> None:
    with pytest.raises(ValueError, match="2 texts but 1 speakers"):
        labeller.label(["a", "b"], ["agent"])


@pytest.mark.parametrize("text", [
    "😀🎉👍",
    "¿Dónde está mi pedido? Lo pedí hace dos semanas.",
    "Ich warte seit einer Stunde und niemand hilft mir!",
    "请问我的订单什么时候到？",
    "\x00\x07 control \x1b chars",
    "?!?!?!",
    "a",
])
def test_odd_input_gets_a_defined_label(labeller: Labeller, text: str) -> None:
    _valid(one(labeller, text, "customer"))


def test_5000_word_run_on_is_truncated_safely(labeller: Labeller) -> None:
    text = " ".join(["and then the engineer said it would be fixed"] * 556)  # ~5,000 words
    labs = labeller.label([text, "Did you restart the router?"], ["customer", "agent"])
    _valid(labs[0])
    assert labs[1].question == "closed"


def test_mixed_batch_keeps_order_and_empty_rows(labeller: Labeller) -> None:
    labs = labeller.label(["What brought you in today?", "", "Did you restart the router?"],
                          ["agent", "customer", "agent"])
    assert [lab.question for lab in labs] == ["open", None, "closed"]
    assert labs[1] == EMPTY_LABELS


def test_deterministic(labeller: Labeller) -> None:
    texts = ["Hi, my bill is wrong again.", "I'm sorry about that, let me check.", "Why is it so high?",
             "Could you confirm your postcode?"]
    speakers = ["customer", "agent", "customer", "agent"]
    assert labeller.label(texts, speakers) == labeller.label(texts, speakers)
    fresh = Labeller(HEADS, encoder=labeller.encoder)
    assert fresh.label(texts, speakers) == labeller.label(texts, speakers)


def test_embedding_does_not_depend_on_the_batch(labeller: Labeller) -> None:
    """An utterance's vector (so its labels) must not depend on which utterances share its batch.

    Dynamic int8 quantisation scales activations per batch and broke this (cosine 0.96-0.99 between
    the same sentence in two batches), so a call's labels depended on what the process had seen before.
    """
    from qm.nlp.encoder import Encoder

    enc = Encoder(adapter=ADAPTER)  # the default runtime settings, with a fresh in-process cache
    texts = ["Not our fault.", "Whatever.", "I'm so sorry, that sounds really stressful."]
    alone = np.stack([enc.encode([t])[0] for t in texts])
    enc._cache.clear()
    long = "This is a much longer sentence that pads the batch with many more tokens than the others, " * 3
    together = enc.encode([*texts, long, "ok"])[:3]
    np.testing.assert_allclose(together, alone, atol=1e-5)


# ---- missing / corrupt artefacts -----------------------------------------------------------

@pytest.fixture
def heads_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(HEADS, tmp_path / "heads"))


def test_missing_head_file_names_file_and_command(heads_copy: Path) -> None:
    (heads_copy / "empathy.npz").unlink()
    with pytest.raises(HeadLoadError) as err:
        Labeller(heads_copy)
    msg = str(err.value)
    assert str(heads_copy / "empathy.npz") in msg
    assert "python -m qm.nlp.train" in msg
    assert isinstance(err.value, QMError)


def test_corrupt_weights_name_file_and_command(heads_copy: Path) -> None:
    (heads_copy / "question.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(HeadLoadError, match=r"question\.npz.*python -m qm\.nlp\.train"):
        Labeller(heads_copy)


def test_corrupt_metadata_names_file(heads_copy: Path) -> None:
    (heads_copy / "sentiment.json").write_text("{ truncated")
    with pytest.raises(HeadLoadError, match=r"sentiment\.json.*not valid JSON"):
        Labeller(heads_copy)


def test_wrong_shape_weights_rejected(heads_copy: Path) -> None:
    with np.load(heads_copy / "emotion.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W1"] = arrays["W1"][:, :2]
    np.savez(heads_copy / "emotion.npz", **arrays)
    with pytest.raises(HeadLoadError, match=r"emotion\.npz.*inconsistent"):
        Labeller(heads_copy)


# ---- drop-in Hugging Face head ---------------------------------------------------------------

def _tiny_hf_classifier(path: Path, id2label: dict[int, str]) -> Path:
    """A real (tiny, untrained) BERT sequence classifier saved the way a fine-tune would be."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from qm.nlp.encoder import bundled_encoder_path

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, num_labels=len(id2label), id2label=id2label,
                     label2id={v: k for k, v in id2label.items()})
    BertForSequenceClassification(cfg).save_pretrained(path)
    AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True).save_pretrained(path)
    return path


def test_hf_model_directory_replaces_a_head(heads_copy: Path, labeller: Labeller) -> None:
    _tiny_hf_classifier(heads_copy / "hf_sentiment", {0: "NEGATIVE", 1: "neutral", 2: "Positive"})
    (heads_copy / "heads.yaml").write_text("sentiment:\n  hf_model: hf_sentiment\n")
    lab = Labeller(heads_copy, encoder=labeller.encoder)
    assert isinstance(lab.heads["sentiment"], HFHead)
    assert set(lab.heads) == set(HEAD_NAMES)
    out = lab.label(["Did you restart the router?", ""], ["agent", "customer"])
    _valid(out[0])
    assert out[0].question == "closed"  # the other heads are still the trained ones
    assert out[1] == EMPTY_LABELS


def test_hf_model_with_unmappable_labels_is_rejected(heads_copy: Path) -> None:
    _tiny_hf_classifier(heads_copy / "hf_q", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})
    (heads_copy / "heads.yaml").write_text("question: hf_q\n")
    with pytest.raises(HeadLoadError, match=r"lacks \['none', 'open', 'closed'\]"):
        Labeller(heads_copy)


def test_heads_yaml_unknown_head_rejected(heads_copy: Path) -> None:
    (heads_copy / "heads.yaml").write_text("sarcasm: somewhere\n")
    with pytest.raises(HeadLoadError, match=r"heads\.yaml.*unknown head 'sarcasm'"):
        Labeller(heads_copy)


# ---- building blocks -----------------------------------------------------------------------

def test_previous_other_turn_uses_only_the_other_speaker() -> None:
    sp = ["customer", "customer", "agent", "agent", "customer"]
    assert previous_other_turn(sp) == [[], [], [0, 1], [0, 1], [2, 3]]


def test_syntax_cues() -> None:
    f = syntax_features(["Tell me about your week.", "You restarted it, didn't you?", "What happened?",
                         "Did you restart it?", "I restarted it.", ""])
    assert f[0, F["open_imperative"]] == 1
    assert f[1, F["tag_question"]] == 1
    assert f[2, F["wh_fronted"]] == 1 and f[2, F["first_wh"]] == 1
    assert f[3, F["aux_inversion"]] == 1
    assert f[4, F["parsed"]] == 0 and f[4, F["has_qmark"]] == 0
    assert not f[5].any()


def test_polite_requests_to_describe_are_open_questions() -> None:
    """QA scorecards count "can you tell me what happened?" as open although it is yes/no in form."""
    from qm.nlp.labeller import get_labeller

    texts = ["Can you tell me what happened when you checked your statement?",
             "Could you walk me through what you did?",
             "Can you tell me your date of birth?",
             "Did you restart the router?"]
    got = [lab.question for lab in get_labeller().label(texts, ["agent"] * len(texts))]
    assert got == ["open", "open", "closed", "closed"]


def test_bare_imperatives_and_offers_of_help_are_open_questions() -> None:
    """The issue counts "tell me about…" imperatives as open; Whisper often drops their '?' too. The offer
    of help asks the customer to state the need in their own words; the head alone called it a formula."""
    from qm.nlp.labeller import get_labeller

    texts = ["Talk me through what's different on this month's bill.",
             "So tell me what happened",
             "How can I help?",
             "Good morning, Tidewell Mobile, my name's Omar, what can I do for you?",
             "I can help with that.",
             "It was explained to me last week.",
             "Can you tell me your account number?"]
    got = [lab.question for lab in get_labeller().label(texts, ["agent"] * len(texts))]
    assert got == ["open", "open", "open", "open", None, None, "closed"]


# ---- encoder adapter -------------------------------------------------------------------------

ADAPTER = Path(__file__).resolve().parents[1] / "models" / "encoder"


@pytest.fixture
def adapter_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ADAPTER, tmp_path / "encoder"))


def test_adapter_changes_the_embedding_space_and_heads_record_it(labeller: Labeller) -> None:
    from qm.nlp.adapter import file_digest
    from qm.nlp.encoder import Encoder

    enc = labeller.encoder
    assert enc.adapter_digest == file_digest(ADAPTER / "adapter.npz")
    for name in HEAD_NAMES:
        assert labeller.heads[name].meta["encoder_adapter"] == enc.adapter_digest
    plain = Encoder(adapter=None)
    texts = ["I'm so sorry to hear that, that sounds really stressful.", "What seems to be the problem?"]
    a, b = enc.encode(texts), plain.encode(texts)
    cos = (a * b).sum(1)
    assert np.all(cos < 0.999)  # the adapter really moved the vectors...
    assert np.all(cos > 0.3)  # ...without destroying them


def test_corrupt_adapter_names_file_and_command(adapter_copy: Path) -> None:
    from qm.nlp.adapter import AdapterLoadError
    from qm.nlp.encoder import Encoder

    (adapter_copy / "adapter.npz").write_bytes(b"\x00garbage")
    with pytest.raises(AdapterLoadError, match=r"adapter\.npz.*python -m qm\.nlp\.train") as err:
        Encoder(adapter=adapter_copy)
    assert isinstance(err.value, QMError)


def test_missing_adapter_metadata_names_file(adapter_copy: Path) -> None:
    from qm.nlp.adapter import AdapterLoadError
    from qm.nlp.encoder import Encoder

    (adapter_copy / "adapter.json").unlink()
    with pytest.raises(AdapterLoadError, match=r"adapter\.json.*file not found"):
        Encoder(adapter=adapter_copy)


def test_heads_refuse_an_encoder_without_their_adapter() -> None:
    from qm.nlp.encoder import Encoder

    with pytest.raises(HeadLoadError, match=r"trained with encoder adapter [0-9a-f]{16} but the encoder has None"):
        Labeller(HEADS, encoder=Encoder(adapter=None))


@pytest.mark.parametrize(("int8", "runtime", "message"), [
    (False, "torch", r"trained with encoder runtime onnx but the encoder has torch"),
    (True, "onnx", r"trained with encoder int8 False but the encoder has True"),
])
def test_heads_refuse_an_encoder_run_differently(labeller: Labeller, int8: bool, runtime: str, message: str) -> None:
    from qm.nlp.encoder import Encoder

    enc = labeller.encoder
    assert not enc.int8 and enc.runtime == "onnx"
    assert all(labeller.heads[n].meta["encoder_runtime"] == "onnx" for n in HEAD_NAMES)
    with pytest.raises(HeadLoadError, match=message):
        Labeller(HEADS, encoder=Encoder(adapter=ADAPTER, int8=int8, runtime=runtime))


def test_onnx_runtime_matches_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qm.nlp.encoder import Encoder

    monkeypatch.setenv("QM_ONNX_CACHE", str(tmp_path))
    texts = ["Thanks for calling, how can I help?", "I'm really worried about the bill.", "ok"]
    a = Encoder(adapter=ADAPTER, runtime="onnx").encode(texts)
    b = Encoder(adapter=ADAPTER, runtime="torch").encode(texts)
    assert np.all((a * b).sum(1) > 0.9999)
    assert len(list(tmp_path.rglob("encoder.onnx"))) == 1  # exported once into the cache, not the repo


def test_onnx_export_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qm.nlp.onnx_runtime as ortmod
    from qm.errors import ModelError
    from qm.nlp.encoder import Encoder

    monkeypatch.setenv("QM_ONNX_CACHE", str(tmp_path))

    def boom(model: object, dest: Path) -> None:  # injected fault: the exporter is missing
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(ortmod, "_export", boom)
    with pytest.raises(ModelError, match=r"could not export the encoder to ONNX.*QM_ENCODER_RUNTIME=torch"):
        Encoder(adapter=None, runtime="onnx")


def test_corrupt_cached_onnx_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qm.nlp.onnx_runtime as ortmod
    from qm.errors import ModelError
    from qm.nlp.encoder import Encoder

    monkeypatch.setenv("QM_ONNX_CACHE", str(tmp_path))
    monkeypatch.setattr(ortmod, "_export", lambda model, dest: Path(dest).write_bytes(b"not onnx"))
    with pytest.raises(ModelError, match=r"cannot load the cached ONNX encoder .*encoder\.onnx.*Delete that file"):
        Encoder(adapter=None, runtime="onnx")


def test_encoder_caches_are_keyed_by_weight_content_not_path(tmp_path: Path) -> None:
    """New weights installed at the same path must never be served from a cache built for the old ones."""
    from qm.nlp.encoder import weights_digest

    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "config.json").write_text('{"hidden_size": 384}')
        (d / "model.safetensors").write_bytes(b"\x00" * 4096 + b"weights")
        (d / "README.md").write_text(f"readme of {d.name}")  # not part of the weights
    assert weights_digest(a) == weights_digest(b)  # same content at another path: same caches
    (b / "model.safetensors").write_bytes(b"\x00" * 4096 + b"retrained")
    assert weights_digest(a) != weights_digest(b)  # same path, new weights: new key


def test_human_agreement_measures_annotator_against_annotator(tmp_path: Path) -> None:
    """The AnnoMI ceiling line of `qm eval nlp`: three annotators, one of whom disagrees once."""
    from qm.nlp.evaluate import human_agreement

    d = tmp_path / "annomi"
    d.mkdir()
    cols = ("transcript_id", "utterance_id", "interlocutor", "annotator_id", "question_exists",
            "question_subtype")
    rows = [",".join(cols)]
    utterances = [("open", "open", "open"), ("closed", "closed", "closed"), ("none", "none", "open"),
                  ("none", "none", "none")]
    for u, labs in enumerate(utterances):
        for a, lab in enumerate(labs):
            exists = "False" if lab == "none" else "True"
            rows.append(f"1,{u},therapist,{a},{exists},{'n/a' if lab == 'none' else lab}")
    rows.append("1,9,client,0,n/a,n/a")  # client turns and single annotations are ignored
    rows.append("2,0,therapist,0,True,open")
    (d / "AnnoMI-full.csv").write_text("\n".join(rows) + "\n")
    h = human_agreement(tmp_path)["question"]["annomi"]
    assert (h["utterances"], h["annotators"]) == (4, 3)
    # annotators 0 and 1 agree everywhere (macro-F1 1); annotator 2 called one 'none' open
    assert h["pairwise_macro_f1_range"][1] == 1.0
    assert 0.5 < h["pairwise_macro_f1_range"][0] < 1.0
    assert h["pairwise_macro_f1_mean"] < h["vs_majority_macro_f1_mean"] < 1.0


def test_merged_ensemble_logits_are_the_members_mean() -> None:
    """A K-seed question head ships as one wider MLP; it must compute exactly the members' mean logits."""
    from qm.nlp.heads import MLPHead
    from qm.nlp.train import merge_ensemble

    rng = np.random.default_rng(0)
    mean, scale = rng.normal(size=6).astype(np.float32), (rng.random(6) + 0.5).astype(np.float32)
    members = [MLPHead("question", ("none", "open", "closed"), ("utterance",), mean, scale,
                       [(rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)),
                        (rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32))],
                       np.zeros(3, np.float32)) for _ in range(3)]
    x = rng.normal(size=(5, 6)).astype(np.float32)
    merged = merge_ensemble(members)
    assert merged.weights[0][0].shape == (6, 12)
    np.testing.assert_allclose(merged.logits(x), np.mean([m.logits(x) for m in members], axis=0), rtol=1e-5,
                               atol=1e-5)
    other = MLPHead("question", members[0].labels, ("utterance",), mean + 1, scale, members[1].weights,
                    np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="same standardisation"):
        merge_ensemble([members[0], other])
