"""Expected errors: each names the thing at fault and the reason, and the CLI prints it as one line."""

from __future__ import annotations

from pathlib import Path


class QMError(Exception):
    """Base of every error qm expects and reports without a traceback."""


class AudioError(QMError):
    """A recording that cannot be scored: missing, empty, not audio, corrupt, or out of policy."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(QMError):
    """A model that cannot be found or loaded (never silently downloaded)."""


class ConfigError(QMError):
    """An invalid setting or option."""


class StoreError(QMError):
    """A conflict in the store, e.g. one call id claimed by two different recordings."""
