"""Prefect orchestration for qm: nightly and on-demand flows over the same pipeline as ``qm score``.

Modules: ``nightly`` (flows ``nightly`` and ``score_pending``), ``rescore``, ``score`` (task
``score_call`` and the claim-guarded ``process_claim``), ``sources`` (inbox discovery), ``deploy``
(deployments and work pool), ``poststeps`` (the post-scoring registry), ``cli`` (``flows_app``).
"""
