"""Configurable rubrics: YAML criteria, validated with line-precise errors, scored per call.

Public API: ``load_rubric``, ``Rubric``, ``ScoringInput``, ``RubricOutcome``,
``RubricError``, ``register_kind`` (plug in a new criterion kind) and
``aggregate`` (the scoring semantics, see ``qm.rubric.scoring``).
"""

from qm.rubric import kinds as _kinds  # noqa: F401  (registers the built-in kinds)
from qm.rubric.engine import Rubric, RubricOutcome
from qm.rubric.errors import Issue, RubricError
from qm.rubric.loader import load_rubric
from qm.rubric.registry import REGISTRY, CriterionKind, Verdict, register_kind
from qm.rubric.scoring import aggregate
from qm.rubric.view import CallView, ScoringInput

__all__ = ["REGISTRY", "CallView", "CriterionKind", "Issue", "Rubric", "RubricError", "RubricOutcome",
           "ScoringInput", "Verdict", "aggregate", "load_rubric", "register_kind"]
