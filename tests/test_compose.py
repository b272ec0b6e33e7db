"""docker-compose.yml's structure, checked without a Docker engine (none runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from billbeat.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _cmd(service: dict[str, Any]) -> str:
    return " ".join(service["command"])


def test_services_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "worker", "beat", "flower", "sandbox"}
    assert _cmd(services["migrate"]) == "billbeat db upgrade"
    assert _cmd(services["worker"]).startswith("celery -A worker worker")
    assert _cmd(services["beat"]).startswith("celery -A worker beat")
    assert _cmd(services["flower"]).startswith("celery -A worker flower")
    assert _cmd(services["sandbox"]).startswith("billbeat sandbox")
    assert services["sandbox"]["profiles"] == ["sandbox"]
    # The worker service must be scalable: no fixed container name or host port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]


def test_start_order_and_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]
    for name in ("worker", "beat"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pgdata" in compose["volumes"]
    assert any("pgdata:" in v for v in services["postgres"]["volumes"])


def test_flower_requires_auth_and_binds_loopback(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert any(part.startswith("--basic-auth=${FLOWER_BASIC_AUTH:?") for part in flower["command"])
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["sandbox"]["ports"])


def test_app_env_covers_required_settings(compose: dict[str, Any]) -> None:
    env = compose["services"]["worker"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "TOSS_API_BASE", "TOSS_SECRET_KEY",
                 "BILLBEAT_ENCRYPTION_KEY"):  # fmt: skip
        assert name in env, name
    assert env["TOSS_SECRET_KEY"].startswith("${TOSS_SECRET_KEY:?")
    assert env["BILLBEAT_ENCRYPTION_KEY"].startswith("${BILLBEAT_ENCRYPTION_KEY:?")
    assert compose["services"]["beat"]["environment"] == env


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", text, flags=re.M))
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env_name = alias if isinstance(alias, str) else str(getattr(alias, "choices", [name])[0])
        assert env_name in listed, f"{env_name} missing from .env.example"
