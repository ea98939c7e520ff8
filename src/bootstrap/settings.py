"""Every setting, read once from the environment and a ``.env`` file, validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from channel_parser.application.errors import ConfigurationError

Provider = Literal["zai", "zai-coding", "openai", "compatible"]


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Names are the environment variables, case-insensitive (see the README's table)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # -- storage ---------------------------------------------------------------
    mongodb_uri: SecretStr | None = None  # unset: the embedded SQLite store is used
    mongodb_database: str = "channel_parser"
    sqlite_path: Path = Path("channel-parser.sqlite3")

    # -- the LLM ---------------------------------------------------------------
    llm_provider: Provider = "zai"
    llm_base_url: str | None = None  # default: the provider's preset
    llm_model: str | None = None  # default: the provider's preset
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_prompt_file: Path | None = None  # default: the shipped prompt
    llm_schema_file: Path | None = None  # default: the shipped general post schema
    llm_max_post_chars: int = Field(default=20_000, ge=100)

    # -- retries, concurrency, timers ----------------------------------------------
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    backoff_cap_seconds: float = Field(default=480.0, gt=0)
    backoff_jitter: float = Field(default=0.0, ge=0, le=1)
    concurrency_start: int = Field(default=4, ge=1)
    concurrency_min: int = Field(default=1, ge=1)
    concurrency_max: int = Field(default=32, ge=1)
    concurrency_lease_seconds: float = Field(default=10.0, ge=1)  # a dead worker's permits
    lease_seconds: float = Field(default=60.0, ge=1)  # renewed every third of it
    stuck_check_seconds: float = Field(default=60.0, gt=0)
    quota_probe_seconds: float = Field(default=300.0, gt=0)
    poll_seconds: float = Field(default=2.0, gt=0)
    notify_quota_interval_seconds: float = Field(default=900.0, ge=0)
    notify_rate_interval_seconds: float = Field(default=300.0, ge=0)

    # -- Telegram ----------------------------------------------------------------
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    telegram_session: Path = Path("channel-parser.session")
    telegram_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    backfill_seconds: float = Field(default=300.0, gt=0)
    admin_bot_token: SecretStr | None = None
    admin_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_bot_api_base: str = "https://api.telegram.org"

    # -- the service ---------------------------------------------------------------
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: no HTTP endpoint
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    _split = field_validator("telegram_channels", "admin_chat_ids", mode="before")(_split_commas)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.concurrency_min <= self.concurrency_start <= self.concurrency_max:
            raise ValueError(
                "CONCURRENCY_MIN <= CONCURRENCY_START <= CONCURRENCY_MAX must hold, got "
                f"{self.concurrency_min}, {self.concurrency_start}, {self.concurrency_max}"
            )
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("BACKOFF_CAP_SECONDS must not be below BACKOFF_BASE_SECONDS")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; a bad one raises ConfigurationError naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad setting as the environment variable, never its value
    when the value may be a secret."""
    first = exc.errors(include_url=False, include_input=False)[0]
    if not first["loc"]:  # a rule across several settings: its message names them
        return f"settings: {str(first['msg']).removeprefix('Value error, ')}"
    name = str(first["loc"][0]).upper()
    more = len(exc.errors()) - 1
    tail = f" (and {more} more)" if more else ""
    return f"setting {name}: {first['msg']}{tail}"
