"""Syntactic cues for question type, fed to the question head next to the embedding.

Sentence embeddings blur the few tokens that make something a question ("did
you" vs "you did"), so explicit cues help: wh-fronting, auxiliary inversion, tag
questions, a trailing '?', and "tell me about / describe" imperatives (which
motivational-interviewing coding counts as open questions).  spaCy parses only
the utterances a cheap regex flags as possible questions, which keeps the
labeller fast on the many plain statements in a call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from qm.spacy_pipelines import PARSER_LOCK, parser

SYNTAX_VERSION = 2  # bump when a feature changes meaning (invalidates training caches)
MAX_SYNTAX_CHARS = 1000  # questions sit at the end of a run-on; parse only its tail

WH = {"what", "why", "how", "where", "when", "who", "whom", "whose", "which"}
AUX = {
    "do", "does", "did", "is", "are", "was", "were", "am", "have", "has", "had", "can", "could", "will",
    "would", "shall", "should", "may", "might", "must", "isn't", "aren't", "wasn't", "weren't", "don't",
    "doesn't", "didn't", "haven't", "hasn't", "hadn't", "can't", "couldn't", "won't", "wouldn't",
    "shouldn't", "ain't",
}
DISCOURSE = {
    "so", "and", "but", "okay", "ok", "well", "uh", "um", "oh", "now", "alright", "right", "yeah", "yes",
    "no", "then", "also", "hmm", "like", "hey", "hi", "sorry", "just", "anyway", "mm-hmm", "uh-huh", "or",
    "because", "huh",
}
_WORD = re.compile(r"[a-z]+(?:['’-][a-z]+)*")
_CLAUSE_WH = re.compile(r"(?:^|[.,;:!?-]\s*)(?:(?:so|and|but|okay|well|uh|um|now|then)\W+)*"
                        r"(what|why|how|where|when|who|whom|whose|which)\b")
_CLAUSE_AUX = re.compile(r"(?:^|[.,;:!?-]\s*)(?:(?:so|and|but|okay|well|uh|um|now|then)\W+)*"
                         r"(do|does|did|is|are|was|were|have|has|can|could|will|would|should|may|might|"
                         r"don't|doesn't|didn't|isn't|aren't|haven't|won't|wouldn't|can't|couldn't)\s+"
                         r"(you|i|we|they|he|she|it|that|this|there|your|anyone|anybody|someone)\b")
_TAG_Q = re.compile(
    r"(?:,|\s)\s*(?:(?:isn't|aren't|wasn't|weren't|don't|doesn't|didn't|haven't|hasn't|won't|wouldn't|"
    r"can't|couldn't|shouldn't|is|are|was|were|do|does|did|have|has|will|would|can|could)\s+"
    r"(?:it|you|he|she|they|we|there|that|i)|right|okay|ok|yeah|correct|eh|huh|yes|no)\s*\?+\s*$"
)
_OPEN_IMPERATIVE = re.compile(
    r"\b(tell me|tell us|describe|explain|walk me through|talk (?:to me )?about|help me understand|"
    r"say (?:a little |a bit )?more|share (?:with me|more|a (?:little|bit))|"
    r"i(?:'d| would) (?:like|love) to (?:hear|know|understand)|i(?:'m| am) (?:curious|wondering)|i wonder|"
    r"(?:can|could|would) you (?:tell|describe|explain|say more|share|walk|elaborate)|elaborate)\b"
)
# "Can you tell me what happened?" is yes/no in form but an invitation to talk: QA scorecards count
# it as open, while SwDA tags it qy, so the learned head alone would call it closed.
_OPEN_REQUEST = re.compile(
    r"^\W*(?:(?:so|and|okay|ok|well|now|right)\W+)*(?:can|could|would|will) you (?:please )?"
    r"(?:(?:tell|give) (?:me|us) (?:(?:a (?:little|bit) )?more|about|what|how|why|when|where|which|"
    r"everything|anything|a bit|a little|in your own words)|describe|explain|walk me through|"
    r"talk me through|say (?:a (?:little|bit) )?more|share|elaborate|help me understand)\b"
    # the bare imperative: "Talk me through what's changed." (Whisper often drops the '?', too)
    r"|^\W*(?:(?:so|and|okay|ok|well|now|right|first)\W+)*(?:please |just )?(?:tell me (?:about|more|what|how|why|"
    r"when|where|a (?:little|bit)|everything)|talk me through|walk me through|describe|explain)\b"
    # the offer of help, "How can I help?", "What can I do for you?": it asks the customer to state
    # their need in their own words, the textbook open question (the head learned it as a formula)
    r"|\b(?:how|what) (?:can|could|may) (?:i|we) (?:help|assist|do for you)\b"
)  # "can you tell me your date of birth?" stays closed: it asks for one fact


def is_open_request(text: str) -> bool:
    """A request to describe or explain, or an offer of help, which counts as an open question."""
    return bool(_OPEN_REQUEST.search(text.lower()))


# "Can you tell me your date of birth?" / "Could I take the account number?": a request for one
# fact, closed in QA terms even though therapy data (AnnoMI) teaches "can you tell me…" = open.
_FACT_REQUEST = re.compile(
    r"^\W*(?:(?:so|and|okay|ok|well|now|right|first|firstly)\W+)*(?:can|could|would|may) (?:you|i) "
    r"(?:please |just |quickly )?(?:tell|give|confirm|read|spell|take|have|get|grab) (?:me |us )?"
    r"(?:your|the|that|a) (?!reason|story|background|situation)"
)


def is_fact_request(text: str) -> bool:
    """A polite request for a single detail (name, number, date), which counts as closed."""
    return bool(_FACT_REQUEST.search(text.lower())) and not is_open_request(text)


_ABOUT_Q = re.compile(r"\b(?:how|what) about\b")
_OR_Q = re.compile(r"\bor\b[^?]*\?")
_BACKCHANNEL_Q = re.compile(
    r"^\W*(?:oh\W+)?(?:really|is that right|is that so|is that true|yeah|right|huh|you do|you did|"
    r"is it|are you|did you|do you|does it|did it|was it|sure|no|seriously|what)\W*\?+\W*$"
)

FEATURE_NAMES = (
    "ends_qmark", "has_qmark", "first_wh", "first_aux", "clause_wh", "clause_aux", "tag_question",
    "open_imperative", "about_question", "or_question", "backchannel_question", "short", "log_words",
    "parsed", "aux_inversion", "wh_fronted", "imperative_root", "declarative_qmark", "wh_embedded",
    # the same cues for the last sentence that ends in '?' (else the last sentence): in a long turn the
    # closing question decides the type, and max-pooling over sentences loses which cue it carried
    "last_wh", "last_aux", "last_declarative", "last_imperative", "last_or", "last_log_words", "log_sentences",
)
N_FEATURES = len(FEATURE_NAMES)
_IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _first_content_word(words: list[str]) -> str:
    for w in words:
        if w not in DISCOURSE:
            return w
    return words[0] if words else ""


def _regex_features(text: str, row: np.ndarray) -> bool:
    """Fill the cheap features; return whether the text deserves a parse."""
    low = text.lower().replace("’", "'").strip()
    words = _WORD.findall(low)
    first = _first_content_word(words)
    row[_IDX["ends_qmark"]] = low.rstrip(" \"')]").endswith("?")
    row[_IDX["has_qmark"]] = "?" in low
    row[_IDX["first_wh"]] = first in WH
    row[_IDX["first_aux"]] = first in AUX
    row[_IDX["clause_wh"]] = bool(_CLAUSE_WH.search(low))
    row[_IDX["clause_aux"]] = bool(_CLAUSE_AUX.search(low))
    row[_IDX["tag_question"]] = bool(_TAG_Q.search(low))
    row[_IDX["open_imperative"]] = bool(_OPEN_IMPERATIVE.search(low))
    row[_IDX["about_question"]] = bool(_ABOUT_Q.search(low))
    row[_IDX["or_question"]] = bool(_OR_Q.search(low))
    row[_IDX["backchannel_question"]] = bool(_BACKCHANNEL_Q.match(low))
    row[_IDX["short"]] = len(words) <= 3
    row[_IDX["log_words"]] = np.log1p(len(words)) / 5.0
    return bool(row[[_IDX[k] for k in ("has_qmark", "first_wh", "first_aux", "clause_wh", "clause_aux",
                                       "open_imperative", "about_question")]].any())


def _parse_features(doc: Any, row: np.ndarray) -> None:
    row[_IDX["parsed"]] = 1.0
    sents = list(doc.sents)
    row[_IDX["log_sentences"]] = np.log1p(len(sents)) / 3.0
    asked = [s for s in sents if s.text.rstrip().endswith("?")]
    last = asked[-1] if asked else (sents[-1] if sents else None)
    for sent in sents:
        toks = [t for t in sent if not t.is_punct and not t.is_space]
        content = [t for t in toks if t.lower_ not in DISCOURSE or t.tag_ in ("MD",)]
        if not content:
            continue
        head = content[0]
        qmark = sent.text.rstrip().endswith("?")
        if head.tag_ in ("WDT", "WP", "WP$", "WRB"):
            row[_IDX["wh_fronted"]] = 1.0
        if head.pos_ == "AUX" or head.tag_ == "MD" or (head.lemma_ == "do" and head.pos_ == "VERB"):
            subj = [t for t in sent if t.dep_ in ("nsubj", "nsubjpass", "expl") and t.i > head.i]
            if subj:
                row[_IDX["aux_inversion"]] = 1.0
        root = sent.root
        if root.tag_ == "VB" and root.i == head.i and not any(c.dep_.startswith("nsubj") for c in root.children):
            row[_IDX["imperative_root"]] = 1.0
        if qmark and head.tag_ not in ("WDT", "WP", "WP$", "WRB") and head.pos_ != "AUX" and head.tag_ != "MD":
            row[_IDX["declarative_qmark"]] = 1.0
        if any(t.tag_ in ("WDT", "WP", "WRB") and t.i > head.i and t.dep_ != "ROOT" for t in toks):
            row[_IDX["wh_embedded"]] = 1.0
        if sent == last:
            is_wh = head.tag_ in ("WDT", "WP", "WP$", "WRB")
            is_aux = head.pos_ == "AUX" or head.tag_ == "MD" or (head.lemma_ == "do" and head.pos_ == "VERB")
            row[_IDX["last_wh"]] = is_wh
            row[_IDX["last_aux"]] = is_aux
            row[_IDX["last_declarative"]] = qmark and not is_wh and not is_aux
            row[_IDX["last_imperative"]] = root.tag_ == "VB" and root.i == head.i
            row[_IDX["last_or"]] = any(t.lower_ == "or" for t in toks)
            row[_IDX["last_log_words"]] = np.log1p(len(toks)) / 5.0


def syntax_features(texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
    """(n, N_FEATURES) float32 question cues; empty text gives an all-zero row."""
    out = np.zeros((len(texts), N_FEATURES), dtype=np.float32)
    to_parse: list[int] = []
    for i, t in enumerate(texts):
        if t and t.strip() and _regex_features(t[-MAX_SYNTAX_CHARS:], out[i]):
            to_parse.append(i)
    if to_parse:
        nlp = parser()
        with PARSER_LOCK:
            docs = nlp.pipe([texts[i][-MAX_SYNTAX_CHARS:] for i in to_parse], batch_size=batch_size)
            for i, doc in zip(to_parse, docs, strict=True):
                _parse_features(doc, out[i])
    return out
