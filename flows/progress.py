"""A process-local observer for the terminal progress bar.

Flow parameters must be serialisable, so the CLI's rich progress bar is not passed in: it registers
here and the tasks running in this process report to it.  Workers on other machines have none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Observer = Callable[[str, str, dict[str, Any] | None], None]  # (event, uri, outcome)

_observers: list[Observer] = []
_lock = threading.Lock()


def add_observer(fn: Observer) -> None:
    with _lock:
        _observers.append(fn)


def remove_observer(fn: Observer) -> None:
    with _lock:
        if fn in _observers:
            _observers.remove(fn)


def notify(event: str, uri: str, outcome: dict[str, Any] | None = None) -> None:
    """Events: ``total`` (uri = count), ``start``, ``end``; an observer's error never fails a call."""
    with _lock:
        current = list(_observers)
    for fn in current:
        try:
            fn(event, uri, outcome)
        except Exception:
            pass
