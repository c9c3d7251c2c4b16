"""The criterion-kind registry: a new kind plugs in with ``@register_kind`` and no engine change.

A kind is a class with a pydantic ``Spec`` (its rubric fields), an optional
``prepare`` (load-time work such as embedding example sentences or training a
classifier) and ``evaluate`` (one call -> ``Verdict``).  The engine only knows
this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from qm.rubric.spec import CriterionSpec, EmbeddingSpace
from qm.rubric.view import CallView


@dataclass(frozen=True, slots=True)
class Verdict:
    """One criterion's judgement of one call.

    ``passed=None`` means not applicable (the situation never arose).  ``credit``
    is the fraction of the weight earned (1 when passed; partial-credit kinds may
    give a fraction when failed).
    """

    passed: bool | None
    credit: float = 0.0
    evidence: list[int] = field(default_factory=list)
    detail: str = ""

    @classmethod
    def na(cls, detail: str) -> Verdict:
        return cls(None, 0.0, [], detail)

    @classmethod
    def of(cls, passed: bool, evidence: list[int], detail: str, credit: float | None = None) -> Verdict:
        c = 1.0 if passed else (credit or 0.0)
        return cls(passed, max(0.0, min(1.0, c)), sorted(set(evidence)), detail)


class PrepareContext:
    """What load-time preparation may use; the encoder is fetched only if a kind asks for it."""

    def __init__(self, encoder_factory: Callable[[], Any] | None = None) -> None:
        self._factory = encoder_factory

    def encoder(self, space: EmbeddingSpace = "similarity") -> Any:
        """An object with ``encode(list[str]) -> np.ndarray (n, d)``, rows L2-normalised: the plain
        similarity encoder, or (``space="labeller"``) the adapted one the classifier heads read."""
        if space == "labeller":
            from qm.nlp.encoder import get_encoder

            return get_encoder()
        if self._factory is None:
            from qm.nlp.encoder import get_similarity_encoder

            return get_similarity_encoder()
        return self._factory()


class CriterionKind:
    """Base class of every criterion kind."""

    kind: ClassVar[str] = ""
    Spec: ClassVar[type[CriterionSpec]] = CriterionSpec
    uses_encoder: ClassVar[bool] = False

    def __init__(self, spec: CriterionSpec) -> None:
        self.spec = spec

    def prepare(self, ctx: PrepareContext) -> None:
        """Load-time work (embedding examples, training); the default kind needs none."""

    def evaluate(self, call: CallView) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError

    def summary(self) -> str:
        """One line for ``qm rubric show``."""
        return ""


REGISTRY: dict[str, type[CriterionKind]] = {}
K = TypeVar("K", bound=type[CriterionKind])


def register_kind(name: str) -> Callable[[K], K]:
    """Class decorator: make ``name`` usable as ``kind:`` in rubric files."""

    def deco(cls: K) -> K:
        existing = REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"criterion kind {name!r} is already registered by {existing.__qualname__}")
        cls.kind = name
        REGISTRY[name] = cls
        return cls

    return deco


def known_kinds() -> list[str]:
    import qm.rubric.kinds  # noqa: F401  (registers the built-in kinds)

    return sorted(REGISTRY)
