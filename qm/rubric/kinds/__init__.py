"""Built-in criterion kinds; importing this package registers them."""

from qm.rubric.kinds import conditional, custom, labels, metric, phrase, trajectory

__all__ = ["conditional", "custom", "labels", "metric", "phrase", "trajectory"]
