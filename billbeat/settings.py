"""Typed configuration, read from the environment (and a ``.env`` file) at the entry point.

Nothing here connects to anything: callers build engines and clients from a ``Settings``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from billbeat.durations import parse_duration_list

__all__ = ["Settings", "get_settings", "SettingsError", "DEFAULT_SQLITE_URL"]

#: Default database: a SQLite file under var/ beside the working directory.
DEFAULT_SQLITE_URL = "sqlite:///var/billbeat.db"


class SettingsError(Exception):
    """Configuration is invalid; the message is one line naming the variable and why."""


class Settings(BaseSettings):
    """All of billbeat's settings. Environment names are given per field."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(DEFAULT_SQLITE_URL, validation_alias="DATABASE_URL")
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    toss_api_base: str = Field("https://api.tosspayments.com", validation_alias="TOSS_API_BASE")
    toss_secret_key: SecretStr = Field(SecretStr(""), validation_alias="TOSS_SECRET_KEY")
    toss_connect_timeout_seconds: float = Field(
        5.0, gt=0, validation_alias="TOSS_CONNECT_TIMEOUT_SECONDS"
    )
    #: Read timeout for lookups and cancels.
    toss_read_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias="TOSS_READ_TIMEOUT_SECONDS"
    )
    #: Read timeout for the billing charge: Toss asks for at least 60 s.
    toss_charge_read_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias="TOSS_CHARGE_READ_TIMEOUT_SECONDS"
    )
    encryption_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("BILLBEAT_ENCRYPTION_KEY")
    )
    #: Delays of the dunning retries after the first failed attempt (1d,3d,5d = 4 attempts).
    retry_schedule: str = Field("1d,3d,5d", validation_alias="BILLBEAT_RETRY_SCHEDULE")
    #: Backoff ladder for reconciling an UNKNOWN outcome; the last step repeats.
    reconcile_schedule: str = Field(
        "15s,1m,5m,1h,1d", validation_alias="BILLBEAT_RECONCILE_SCHEDULE"
    )
    tick_seconds: float = Field(5.0, gt=0, validation_alias="BILLBEAT_TICK_SECONDS")
    #: SQLAlchemy pool size per process (PostgreSQL); threads share it.
    db_pool_size: int = Field(10, ge=1, le=200, validation_alias="BILLBEAT_DB_POOL_SIZE")
    db_max_overflow: int = Field(5, ge=0, le=200, validation_alias="BILLBEAT_DB_MAX_OVERFLOW")
    log_level: str = Field("INFO", validation_alias="BILLBEAT_LOG_LEVEL")
    #: A PENDING charge enqueued longer ago than this is re-published by the sweeper (its
    #: message was presumably lost, e.g. Redis restarted empty).
    stale_enqueue_seconds: float = Field(
        300.0, gt=0, validation_alias="BILLBEAT_STALE_ENQUEUE_SECONDS"
    )
    #: How often beat runs the sweeper.
    sweep_interval_seconds: float = Field(
        60.0, gt=0, validation_alias="BILLBEAT_SWEEP_INTERVAL_SECONDS"
    )
    #: First pause of charging after a setup error (bad key, no contract); doubles to 10 min.
    setup_pause_seconds: float = Field(60.0, gt=0, validation_alias="BILLBEAT_SETUP_PAUSE_SECONDS")
    #: Margin on top of the HTTP timeouts before a worker's claim counts as abandoned.
    lease_margin_seconds: float = Field(
        60.0, ge=0, validation_alias="BILLBEAT_LEASE_MARGIN_SECONDS"
    )

    @field_validator("retry_schedule", "reconcile_schedule")
    @classmethod
    def _durations(cls, value: str) -> str:
        parse_duration_list(value)
        return value

    @property
    def retry_schedule_seconds(self) -> list[int]:
        return parse_duration_list(self.retry_schedule)

    @property
    def reconcile_schedule_seconds(self) -> list[int]:
        return parse_duration_list(self.reconcile_schedule) or [60]

    @property
    def encryption_keys(self) -> list[str]:
        """Fernet keys, first encrypts, all decrypt (rotation)."""
        raw = self.encryption_key.get_secret_value()
        return [k.strip() for k in raw.split(",") if k.strip()]

    def ensure_sqlite_dir(self) -> None:
        """Create the folder of a file-backed SQLite URL (``var/`` by default)."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            Path(self.database_url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: object) -> Settings:
    """Build settings; validation problems become one-line ``SettingsError``s."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ("?",)
        field = str(loc[0])
        alias = (
            Settings.model_fields[field].validation_alias
            if field in Settings.model_fields
            else None
        )
        name = alias if isinstance(alias, str) else field
        raise SettingsError(f"{name}: {err.get('msg', 'invalid value')}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached). Tests build their own ``Settings`` instead."""
    return load_settings()
