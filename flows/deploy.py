"""Deployments on a Prefect server: the scheduled nightly run and the fan-out unit of work.

Entry points are module paths (``flows.nightly.nightly``), so a worker needs only the installed qm
package (the Docker image, or ``pip install``), not a checkout at the same path.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

NIGHTLY = "qm-nightly"
SCORE_PENDING = "qm-score-pending"


def ensure_pool(pool: str) -> None:
    """Create a process work pool if the server has none of that name (idempotent)."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass


def deploy_all(inbox: str, cron: str, timezone: str = "UTC", pool: str = "qm", manifest: str | None = None,
               fan_out: int = 0, concurrency: int = 2, paused: bool = False) -> dict[str, UUID]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.nightly import nightly, score_pending

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"--timezone {timezone!r} is not an IANA time zone") from exc
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"--cron {cron!r} is not a valid cron expression") from exc
    ensure_pool(pool)
    params: dict[str, Any] = {"source": inbox, "manifest": manifest, "fan_out": fan_out,
                              "concurrency": concurrency}
    night = nightly.to_deployment(NIGHTLY, schedules=[Cron(cron, timezone=timezone)], parameters=params,
                                  paused=paused, entrypoint_type=EntrypointType.MODULE_PATH,
                                  description="Score the day's recordings once; summary artifact per run.",
                                  concurrency_limit=1)  # one nightly at a time; fan-out children are separate
    drain = score_pending.to_deployment(SCORE_PENDING, parameters={"inbox": inbox, "manifest": manifest},
                                        entrypoint_type=EntrypointType.MODULE_PATH,
                                        description="Drain claimed calls of a batch (started by qm-nightly).")
    return {f"{NIGHTLY}/{NIGHTLY}": night.apply(work_pool_name=pool),
            f"{SCORE_PENDING}/{SCORE_PENDING}": drain.apply(work_pool_name=pool)}
