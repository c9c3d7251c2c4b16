"""Readers that turn the public datasets under ../shared/datasets into one shape.

Every corpus becomes a list of ``Dialogue`` records (texts, speakers, per-task
labels, a fixed train/val/test split) so that training and evaluation build
features the same way the labeller does at run time: one embedding per
utterance plus, for context-aware heads, the previous turn of the other
speaker.  Splits are the official ones where they exist, otherwise a fixed
hash of the dialogue id, so a rerun never moves an example across the line.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qm.nlp.heads import EMOTION_LABELS

Split = str  # "train" | "val" | "test"

SWDA_CLOSED = {"qy", "qy^d", "^g", "qrr"}
SWDA_OPEN = {"qw", "qw^d", "qo"}
# SwDA is 192k utterances of mostly statements; keeping every question-like one plus a
# fixed sample of the rest keeps embedding time in minutes without losing signal.
SWDA_QUESTIONISH = SWDA_CLOSED | SWDA_OPEN | {"qh", "bh", "^q", "br"}
SWDA_OTHER_KEEP = 1 / 12

# 40% of GoEmotions train is plenty next to MELD/MAIA and halves the embedding time.
GOEMO_TRAIN_KEEP = 0.4
# ESConv train: a fixed 60% of dialogues (its 13k supporter turns repeat a few strategies).
ESCONV_TRAIN_KEEP = 0.6

GOEMO_TO_EMOTION = {
    "anger": "anger", "annoyance": "anger", "disapproval": "anger", "disgust": "anger",
    "fear": "anxiety", "nervousness": "anxiety",
    "sadness": "sadness", "grief": "sadness", "disappointment": "sadness", "remorse": "sadness",
    "embarrassment": "sadness",
    "joy": "joy", "gratitude": "joy", "amusement": "joy", "love": "joy", "admiration": "joy",
    "excitement": "joy", "optimism": "joy", "pride": "joy", "relief": "joy", "approval": "joy",
    "caring": "joy", "desire": "joy",
    "confusion": "confusion", "curiosity": "confusion",
    "surprise": "surprise", "realization": "surprise",
    "neutral": "neutral",
}
MELD_TO_EMOTION = {
    "anger": "anger", "disgust": "anger", "fear": "anxiety", "sadness": "sadness", "joy": "joy",
    "surprise": "surprise", "neutral": "neutral",
}
# MAIA-DQE order (emotion_labels.txt): 0 empathy, 1 happiness, 2 neutral, 3 disappointment,
# 4 confusion, 5 frustration, 6 anger, 7 anxiety.  "empathy" is an agent act, not a felt emotion,
# so it carries no emotion/sentiment label here.
MAIA_TO_EMOTION = {1: "joy", 2: "neutral", 3: "sadness", 4: "confusion", 5: "anger", 6: "anger", 7: "anxiety"}
MAIA_TO_SENTIMENT = {1: "positive", 2: "neutral", 3: "negative", 5: "negative", 6: "negative", 7: "negative"}

EMPATHIC_INTENTS = {"acknowledging", "consoling", "sympathizing", "expressing_care_concern", "encouraging"}
ESCONV_EMPATHY = {"Reflection of feelings", "Affirmation and Reassurance"}

assert set(GOEMO_TO_EMOTION.values()) <= set(EMOTION_LABELS)


@dataclass(slots=True)
class Dialogue:
    """One conversation (or a single post) with labels for some of its utterances."""

    corpus: str
    id: str
    split: Split
    texts: list[str]
    speakers: list[str]
    labels: dict[str, list[str | None]] = field(default_factory=dict)

    def label(self, task: str, text_index: int, value: str | None) -> None:
        labs = self.labels.setdefault(task, [])
        labs.extend([None] * (len(self.texts) - len(labs)))
        labs[text_index] = value

    def task_labels(self, task: str) -> list[str | None]:
        """Labels for ``task`` aligned with ``texts`` (None = not labelled)."""
        labs = self.labels.get(task, [])
        return labs + [None] * (len(self.texts) - len(labs))


def hash_split(key: str) -> Split:
    """Fixed 60/20/20 split by a stable hash (for corpora without official splits)."""
    bucket = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def _keep_fraction(key: str, fraction: float) -> bool:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 10_000 < fraction * 10_000


def _read_tsv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh, delimiter="\t")


def _read_csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


# ---- question type -------------------------------------------------------------------------

def swda_question(tag: str) -> str:
    return "closed" if tag in SWDA_CLOSED else "open" if tag in SWDA_OPEN else "none"


def load_swda(data: Path) -> list[Dialogue]:
    convs: dict[tuple[str, str], Dialogue] = {}
    for r in _read_tsv(data / "swda" / "swda_utterances.tsv"):
        split = {"train": "train", "val": "val", "test": "test"}[r["split"]]
        key = (split, r["conversation_no"])
        d = convs.get(key)
        if d is None:
            d = convs[key] = Dialogue("swda", r["conversation_no"], split, [], [])
        d.texts.append(r["utterance"])
        d.speakers.append(r["speaker"])
        tag = r["da_tag"]
        keep = (split != "train" or tag in SWDA_QUESTIONISH or "?" in r["utterance"]
                or _keep_fraction(f"swda:{r['conversation_no']}:{r['utt_index']}", SWDA_OTHER_KEEP))
        d.label("question", len(d.texts) - 1, swda_question(tag) if keep else None)
    return list(convs.values())


def load_annomi(data: Path) -> list[Dialogue]:
    """Therapist question labels (first annotation of each utterance), split by transcript hash."""
    seen: set[tuple[str, str]] = set()
    convs: dict[str, Dialogue] = {}
    for r in _read_csv(data / "annomi" / "AnnoMI-full.csv"):
        key = (r["transcript_id"], r["utterance_id"])
        if key in seen:
            continue
        seen.add(key)
        tid = r["transcript_id"]
        d = convs.get(tid)
        if d is None:
            d = convs[tid] = Dialogue("annomi", tid, hash_split(f"annomi:{tid}"), [], [])
        d.texts.append(r["utterance_text"])
        d.speakers.append(r["interlocutor"])
        if r["interlocutor"] == "therapist":
            q = r["question_subtype"] if r["question_exists"] == "True" else "none"
            d.label("question", len(d.texts) - 1, q if q in ("open", "closed", "none") else "none")
    return list(convs.values())


def annomi_multi_annotations(data: Path) -> list[list[str]]:
    """Question labels of the therapist utterances that several annotators labelled, one list per
    utterance (annotator order as in the file).

    Why: training and evaluation use the first annotation only, so how often two annotators agree
    is the ceiling any model can reach against that single label; ``qm eval nlp`` reports it.
    """
    by: dict[tuple[str, str], list[str]] = {}
    for r in _read_csv(data / "annomi" / "AnnoMI-full.csv"):
        if r["interlocutor"] != "therapist":
            continue
        q = r["question_subtype"] if r["question_exists"] == "True" else "none"
        by.setdefault((r["transcript_id"], r["utterance_id"]), []).append(
            q if q in ("open", "closed", "none") else "none")
    return [labs for labs in by.values() if len(labs) > 1]


# ---- empathy -------------------------------------------------------------------------------

def load_epitome(data: Path) -> list[Dialogue]:
    out = []
    for r in _read_csv(data / "epitome_empathy" / "emotional-reactions-reddit.csv"):
        d = Dialogue("epitome", r["rp_id"], hash_split(f"epitome:{r['sp_id']}"),
                     [r["seeker_post"], r["response_post"]], ["seeker", "responder"])
        d.label("empathy", 1, "empathy" if int(r["level"]) >= 1 else "other")
        out.append(d)
    return out


def load_esconv(data: Path) -> list[Dialogue]:
    out = []
    for split, fname in (("train", "train.jsonl"), ("val", "valid.jsonl"), ("test", "test.jsonl")):
        with (data / "esconv" / fname).open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if split == "train" and not _keep_fraction(f"esconv:{i}", ESCONV_TRAIN_KEEP):
                    continue
                j = json.loads(line)
                d = Dialogue("esconv", f"{split}-{i}", split, [], [])
                for turn in j["dialog"]:
                    d.texts.append(turn["text"])
                    d.speakers.append(turn["speaker"])
                    if turn["speaker"] == "sys":
                        lab = "empathy" if turn.get("strategy") in ESCONV_EMPATHY else "other"
                        d.label("empathy", len(d.texts) - 1, lab)
                out.append(d)
    return out


def load_empathetic_intents(data: Path) -> list[Dialogue]:
    out = []
    for path in sorted((data / "empathetic_intents").glob("*.txt")):
        lab = "empathy" if path.stem in EMPATHIC_INTENTS else "other"
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                d = Dialogue("empathetic_intents", f"{path.stem}-{i}", "train", [line.strip()], ["listener"])
                d.label("empathy", 0, lab)
                out.append(d)
    return out


# ---- customer service (MAIA-DQE) -----------------------------------------------------------

def _maia_splits(data: Path) -> dict[str, Split]:
    out: dict[str, Split] = {}
    for path in sorted((data / "maia_dqe" / "emotion_splits").glob("*.json")):
        for split, ids in json.loads(path.read_text()).items():
            for i in ids:
                out[i] = "val" if split in ("val", "valid", "dev") else split
    return out


def load_maia(data: Path) -> list[Dialogue]:
    """Sentence-level MAIA-DQE, de-duplicated by dialogue id; agents in English (text_src),
    customers via the English MT (text_mt).  Dialogues absent from the official splits train."""
    splits = _maia_splits(data)
    seen: set[str] = set()
    out = []
    for path in sorted((data / "maia_dqe").glob("*.json")):
        for dlg in json.loads(path.read_text(encoding="utf-8")):
            if dlg["id"] in seen:
                continue
            seen.add(dlg["id"])
            d = Dialogue("maia", dlg["id"], splits.get(dlg["id"], "train"), [], [])
            for turn in dlg["turns"]:
                agent = turn["floor"] == "outbound"
                texts = turn["text_src"] if agent else turn["text_mt"]
                emos = turn.get("Emotion") or [None] * len(texts)
                for text, emo in zip(texts, emos, strict=False):
                    d.texts.append(text)
                    d.speakers.append("agent" if agent else "customer")
                    i = len(d.texts) - 1
                    if emo is None or emo < 0:
                        continue
                    if agent:
                        d.label("empathy", i, "empathy" if emo == 0 else "other")
                    d.label("emotion", i, MAIA_TO_EMOTION.get(emo))
                    d.label("sentiment", i, MAIA_TO_SENTIMENT.get(emo))
            out.append(d)
    return out


# ---- sentiment / emotion -------------------------------------------------------------------

def load_meld(data: Path) -> list[Dialogue]:
    out = []
    for split, fname in (("train", "train_sent_emo.csv"), ("val", "dev_sent_emo.csv"),
                         ("test", "test_sent_emo.csv")):
        convs: dict[str, Dialogue] = {}
        for r in _read_csv(data / "meld" / fname):
            did = r["Dialogue_ID"]
            d = convs.get(did)
            if d is None:
                d = convs[did] = Dialogue("meld", f"{split}-{did}", split, [], [])
            d.texts.append(r["Utterance"].replace("\u2019", "'").replace("\u2018", "'"))
            d.speakers.append(r["Speaker"])
            d.label("sentiment", len(d.texts) - 1, r["Sentiment"])
            d.label("emotion", len(d.texts) - 1, MELD_TO_EMOTION[r["Emotion"]])
        out.extend(convs.values())
    return out


def load_goemotions(data: Path) -> list[Dialogue]:
    """Single-comment 'dialogues'; a comment is kept for a task only when its labels map to one class."""
    root = data / "goemotions"
    names = (root / "emotions.txt").read_text().split()
    senti = json.loads((root / "sentiment_mapping.json").read_text())
    to_sent = {e: s for s, es in senti.items() for e in es}
    out = []
    for split, fname in (("train", "train.tsv"), ("val", "dev.tsv"), ("test", "test.tsv")):
        with (root / fname).open(encoding="utf-8") as fh:
            for line in fh:
                text, ids, cid = line.rstrip("\n").split("\t")
                if split == "train" and not _keep_fraction(f"goemotions:{cid}", GOEMO_TRAIN_KEEP):
                    continue
                emos = [names[int(i)] for i in ids.split(",")]
                d = Dialogue("goemotions", cid, split, [text], ["reddit"])
                mapped = {GOEMO_TO_EMOTION[e] for e in emos}
                d.label("emotion", 0, mapped.pop() if len(mapped) == 1 else None)
                sents = {to_sent.get(e, "neutral") for e in emos}
                sents = {"neutral" if s == "ambiguous" else s for s in sents}
                d.label("sentiment", 0, sents.pop() if len(sents) == 1 else None)
                out.append(d)
    return out


LOADERS = {
    "swda": load_swda, "annomi": load_annomi, "epitome": load_epitome, "esconv": load_esconv,
    "empathetic_intents": load_empathetic_intents, "maia": load_maia, "meld": load_meld,
    "goemotions": load_goemotions,
}


def load_all(data: Path) -> list[Dialogue]:
    missing = [p for p in ("swda", "annomi", "epitome_empathy", "esconv", "maia_dqe", "meld", "goemotions")
               if not (data / p).is_dir()]
    if missing:
        raise FileNotFoundError(f"dataset folder(s) {', '.join(missing)} not found under {data}")
    out: list[Dialogue] = []
    for loader in LOADERS.values():
        out.extend(loader(data))
    return out
