"""Every setting, read once from the environment and a ``.env`` file, validated at start."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from channel_parser.application.errors import ConfigurationError

Provider = Literal["zai", "zai-coding", "openai", "compatible"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

DAY = 86_400.0
WEEK = 7 * DAY


def _seconds(default: float, low: float, high: float) -> Any:
    """A time setting: finite (no inf/nan), from *low* to *high* seconds. Every wait the
    service makes is bounded, nothing spins, and no time sum can overflow a date."""
    return Field(default=default, ge=low, le=high, allow_inf_nan=False)


def http_url(value: str) -> str:
    """An http(s) URL with a host and a valid port, checked at start rather than at its
    first use (ValueError saying what is wrong; never the URL, which may hold a token)."""
    try:
        url = urllib.parse.urlsplit(value)
        port = url.port  # ValueError when out of range or not a number
    except ValueError as exc:
        raise ValueError(f"not a usable URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if port == 0:
        raise ValueError("port 0 is not a port a server listens on")
    return value


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Names are the environment variables, case-insensitive (see the README's table)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,  # `TELEGRAM_API_ID=` (as .env.example ships it) means unset
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
    llm_timeout: float = _seconds(60.0, 0.1, 3600.0)  # the deadline of one whole call
    llm_prompt_file: Path | None = None  # default: the shipped prompt
    llm_schema_file: Path | None = None  # default: the shipped general post schema
    llm_schema: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,64}$")  # a shipped one
    config_file: Path | None = None  # profiles (channels -> prompt + schema) and routes
    llm_max_post_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    llm_max_reply_bytes: int = Field(default=1_048_576, ge=1024, le=100_000_000)
    llm_max_result_bytes: int = Field(default=262_144, ge=1024, le=8_000_000)
    # None: the provider's preset (disabled for the Z.AI presets; nothing sent otherwise)
    llm_thinking: Literal["disabled", "enabled", "provider"] | None = None
    llm_max_output_tokens: int = Field(default=4096, ge=0, le=1_000_000)  # 0: not sent
    llm_price_input_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    llm_price_output_per_mtok: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    reparse_edits: bool = True  # an edit of a parsed post queues it to be parsed again

    # -- retries, concurrency, timers ----------------------------------------------
    backoff_base_seconds: float = _seconds(30.0, 0.01, DAY)
    backoff_factor: float = Field(default=2.0, ge=1, le=100, allow_inf_nan=False)
    backoff_cap_seconds: float = _seconds(480.0, 0.01, DAY)
    backoff_jitter: float = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)
    internal_error_limit: int = Field(default=3, ge=1, le=100)
    concurrency_start: int = Field(default=4, ge=1, le=10_000)
    concurrency_min: int = Field(default=1, ge=1, le=10_000)
    concurrency_max: int = Field(default=32, ge=1, le=10_000)
    concurrency_lease_seconds: float = _seconds(10.0, 1.0, 3600.0)  # a dead worker's permits
    lease_seconds: float = _seconds(60.0, 1.0, DAY)  # renewed every third of it
    stuck_check_seconds: float = _seconds(60.0, 0.1, DAY)
    quota_probe_seconds: float = _seconds(300.0, 0.1, DAY)
    poll_seconds: float = _seconds(2.0, 0.01, 3600.0)
    notify_quota_interval_seconds: float = _seconds(900.0, 0.0, WEEK)
    notify_rate_interval_seconds: float = _seconds(300.0, 0.0, WEEK)

    # -- Telegram ----------------------------------------------------------------
    telegram_api_id: int | None = None
    telegram_api_hash: SecretStr | None = None
    telegram_session: Path = Path("channel-parser.session")
    telegram_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    backfill_seconds: float = _seconds(300.0, 1.0, DAY)
    backfill_initial_posts: int = Field(default=100, ge=0, le=10_000)  # a new channel's history
    telegram_poll_seconds: float = _seconds(60.0, 5.0, DAY)  # channels the account has not joined
    telegram_join_channels: bool = False  # join them (and invite links) instead of polling
    admin_bot_token: SecretStr | None = None
    admin_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_bot_api_base: str = "https://api.telegram.org"

    # -- delivery of results ---------------------------------------------------------
    deliver_webhook_url: SecretStr | None = None  # every parsed post POSTed here (may hold a token)
    deliver_webhook_secret: SecretStr | None = None  # HMAC-SHA256 signature of each body

    # -- the service ---------------------------------------------------------------
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: no HTTP endpoint
    log_level: LogLevel = "INFO"
    log_libraries: LogLevel = "WARNING"  # other libraries' loggers (httpx, pymongo, ...)

    _split = field_validator("telegram_channels", "admin_chat_ids", mode="before")(_split_commas)

    @field_validator("admin_bot_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value).rstrip("/")

    @field_validator("deliver_webhook_url")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            http_url(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if not self.concurrency_min <= self.concurrency_start <= self.concurrency_max:
            raise ValueError(
                "CONCURRENCY_MIN <= CONCURRENCY_START <= CONCURRENCY_MAX must hold, got "
                f"{self.concurrency_min}, {self.concurrency_start}, {self.concurrency_max}"
            )
        if self.backoff_cap_seconds < self.backoff_base_seconds:
            raise ValueError("BACKOFF_CAP_SECONDS must not be below BACKOFF_BASE_SECONDS")
        if self.llm_schema is not None and self.llm_schema_file is not None:
            raise ValueError(
                "LLM_SCHEMA (a shipped schema) and LLM_SCHEMA_FILE (your own) are both set: "
                "set one of them"
            )
        if (self.llm_price_input_per_mtok is None) != (self.llm_price_output_per_mtok is None):
            raise ValueError(
                "LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK are set together"
            )
        return self

    @field_validator("log_level", "log_libraries", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("llm_thinking", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value


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
