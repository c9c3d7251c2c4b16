"""Prefect orchestration for qm: nightly and on-demand flows over the same pipeline as ``qm score``.

Modules: ``nightly`` (flows ``nightly`` and ``score_pending``), ``rescore``, ``score`` (task
``score_call`` and the claim-guarded ``process_claim``), ``sources`` (inbox discovery), ``deploy``
(deployments and work pool), ``poststeps`` (the post-scoring registry), ``cli`` (``flows_app``).
"""

import os

# qm never phones home: Prefect's server would otherwise try to send usage telemetry at start-up,
# which fails (and logs an error) on the offline machines qm is built for.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
