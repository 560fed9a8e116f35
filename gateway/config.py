"""Settings of the gateway, read from `GATEWAY_*` environment variables and an optional TOML file.

Built by the CLI or by `create_app`, never at import time. `load_settings()` turns every validation
failure into one `ConfigurationError` naming the environment variable and what is wrong with it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.errors import ConfigurationError

ENV_PREFIX = "GATEWAY_"
CONFIG_FILE_VARIABLE = "GATEWAY_CONFIG_FILE"


class Settings(BaseSettings):
    """Every setting, with its default. The README lists them; a test keeps the two in step."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    # --- the store and the cache
    database_url: str = "sqlite+aiosqlite:///./var/gateway.db"
    cache_url: str = "memory://"

    # --- Business Central
    erp_base_url: str = ""
    erp_tenant: str = "common"
    erp_environment: str = "production"
    erp_company: str = ""
    erp_token_url: str = ""
    erp_client_id: str = ""
    erp_client_secret: SecretStr = SecretStr("")
    erp_scope: str = "https://api.businesscentral.dynamics.com/.default"
    erp_page_size: int = Field(default=20_000, ge=1, le=20_000)
    erp_batch_size: int = Field(default=100, ge=1, le=100)
    erp_max_concurrency: int = Field(default=5, ge=1, le=100)

    # --- Dataverse
    crm_base_url: str = ""
    crm_token_url: str = ""
    crm_client_id: str = ""
    crm_client_secret: SecretStr = SecretStr("")
    crm_scope: str = ""
    crm_page_size: int = Field(default=5_000, ge=1, le=5_000)
    crm_batch_size: int = Field(default=1_000, ge=1, le=1_000)
    crm_max_concurrency: int = Field(default=52, ge=1, le=200)

    # --- talking to upstreams
    upstream_timeout_seconds: float = Field(default=30.0, gt=0)
    upstream_max_retries: int = Field(default=6, ge=0, le=20)
    upstream_backoff_base_seconds: float = Field(default=0.5, ge=0)
    upstream_backoff_max_seconds: float = Field(default=30.0, ge=0)

    # --- live availability (DOMAIN.md §10)
    availability_fresh_seconds: float = Field(default=10.0, ge=0)
    availability_max_stale_seconds: float = Field(default=300.0, ge=0)
    availability_chunk_size: int = Field(default=50, ge=1, le=500)
    availability_breaker_failures: int = Field(default=5, ge=1)
    availability_breaker_reset_seconds: float = Field(default=30.0, gt=0)
    availability_deadline_seconds: float = Field(default=3.0, gt=0, le=300)

    # --- /readyz
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=60)

    # --- who sees what (issue §6)
    sales_scope: Literal["all", "own"] = "all"
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    # --- the syncer's scheduler and workers (issue 3 §7)
    sync_interval_seconds: float = Field(default=30.0, ge=0)
    lease_ttl_seconds: float = Field(default=15.0, gt=0)
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)
    worker_id: str = ""
    scheduler_in_process: bool | None = None
    webhook_client_state: SecretStr | None = None
    webhook_url: str = ""
    crm_poll_seconds: float | None = Field(default=None, gt=0)
    deletion_check_seconds: float = Field(default=3600.0, gt=0)
    # On by default: a stall of 5 s is a third of the default lease TTL, so an operator wants to hear
    # of it (and where it was) before leases start to lapse; 0 turns the watchdog off.
    loop_watch_seconds: float = Field(default=5.0, ge=0)

    # --- the web side
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    demo: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("cache_url")
    @classmethod
    def _known_cache(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("must be memory:// or redis://HOST:PORT/DB")
        return value

    @field_validator("erp_base_url", "crm_base_url", "erp_token_url", "crm_token_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("availability_max_stale_seconds")
    @classmethod
    def _stale_after_fresh(cls, value: float, info: ValidationInfo) -> float:
        fresh = info.data.get("availability_fresh_seconds")
        if fresh is not None and value < fresh:
            raise ValueError(f"must be at least GATEWAY_AVAILABILITY_FRESH_SECONDS ({fresh:g})")
        return value

    @field_validator("loop_watch_seconds")
    @classmethod
    def _beyond_one_tick(cls, value: float) -> float:
        # The watchdog stamps the loop every 0.1 s (gateway.sync.loop_watch): a shorter threshold
        # would report every tick.
        if 0 < value <= 0.1:
            raise ValueError("must be 0 (off) or more than 0.1")
        return value

    @model_validator(mode="after")
    def _default_crm_scope(self) -> Settings:
        if not self.crm_scope and self.crm_base_url:
            self.crm_scope = f"{self.crm_base_url}/.default"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def require_upstreams(self, *, hint: str = "or run with --demo") -> None:
        """Raise `ConfigurationError` unless both upstreams are fully configured (non-demo runs);
        `hint` follows the missing setting's name in brackets."""
        for name in (
            "erp_base_url",
            "erp_token_url",
            "erp_client_id",
            "erp_client_secret",
            "crm_base_url",
            "crm_token_url",
            "crm_client_id",
            "crm_client_secret",
        ):
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not value:
                raise ConfigurationError(env_name(name), f"is required ({hint})")

    def webhook_subscription(self) -> tuple[str, str] | None:
        """(notification URL, clientState) when both are set, so the syncer keeps BC webhook
        subscriptions; None when either is missing (polling only)."""
        secret = self.webhook_client_state.get_secret_value() if self.webhook_client_state else ""
        if not self.webhook_url or not secret:
            return None
        return self.webhook_url, secret

    def resolved_worker_id(self) -> str:
        """GATEWAY_WORKER_ID, or hostname-pid: unique per process, readable in the lease table."""
        return self.worker_id or f"{socket.gethostname()}-{os.getpid()}"

    def runs_scheduler_in_process(self) -> bool:
        """Whether `gateway run` runs the scheduler too: GATEWAY_SCHEDULER_IN_PROCESS, else only in demo."""
        return self.demo if self.scheduler_in_process is None else self.scheduler_in_process


def env_name(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; any problem becomes one `ConfigurationError` naming the variable."""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file and not Path(config_file).is_file():
        raise ConfigurationError(CONFIG_FILE_VARIABLE, f"file {config_file!r} does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = first.get("loc", ())
        name = env_name(str(location[0])) if location else ENV_PREFIX + "?"
        message = str(first.get("msg", "is invalid"))
        if first.get("type") == "extra_forbidden":
            message = "is not a known setting"
        raise ConfigurationError(name, message) from None
    except ValueError as exc:  # e.g. a TOML file that does not parse
        raise ConfigurationError(CONFIG_FILE_VARIABLE, str(exc).splitlines()[0]) from None
