"""Every setting is bounded and checked at start: a value that would make the service
spin, overflow a date or fail only later (inf, 1e12, nan, a port out of range) stops
every command with one line naming the setting."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from channel_parser.application.errors import ConfigurationError
from channel_parser.bootstrap.logs import configure_logging
from channel_parser.bootstrap.settings import Settings, load_settings

TIME_SETTINGS = [
    "llm_timeout",
    "backoff_base_seconds",
    "backoff_cap_seconds",
    "lease_seconds",
    "stuck_check_seconds",
    "quota_probe_seconds",
    "poll_seconds",
    "notify_quota_interval_seconds",
    "notify_rate_interval_seconds",
    "backfill_seconds",
    "telegram_poll_seconds",
    "concurrency_lease_seconds",
]


def load(**values: Any) -> Settings:
    return load_settings(_env_file=None, **values)


@pytest.mark.parametrize("name", TIME_SETTINGS)
@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "1e12", "-1"])
def test_a_time_setting_must_be_finite_and_within_range(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load(**{name: value})
    line = str(refused.value)
    assert line.startswith(f"setting {name.upper()}: ") and "\n" not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("backoff_factor", "inf"),
        ("backoff_jitter", "nan"),
        ("internal_error_limit", "0"),
        ("llm_max_reply_bytes", "10"),
        ("llm_max_result_bytes", "1e12"),
        ("concurrency_max", "1000000"),
    ],
)
def test_other_numbers_are_bounded_too(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"setting {name.upper()}: "):
        load(**{name: value})


def test_the_defaults_are_within_the_bounds() -> None:
    settings = load()
    assert settings.backoff_base_seconds == 30 and settings.backoff_cap_seconds == 480
    assert settings.llm_max_reply_bytes == 1_048_576 and settings.llm_max_result_bytes == 262_144
    assert settings.internal_error_limit == 3 and settings.log_libraries == "WARNING"


@pytest.mark.parametrize(
    "value",
    [
        "api.telegram.org",
        "ftp://api.telegram.org",
        "https://api.telegram.org:99999",
        "https://api.telegram.org:0",
        "https://:443",
        "http://[::1",
    ],
)
def test_the_bot_api_base_is_checked_at_start(value: str) -> None:
    with pytest.raises(ConfigurationError, match="setting ADMIN_BOT_API_BASE: "):
        load(admin_bot_api_base=value)


def test_a_good_bot_api_base_is_kept() -> None:
    assert load(admin_bot_api_base="http://127.0.0.1:8081/").admin_bot_api_base == (
        "http://127.0.0.1:8081"
    )


def test_debug_logging_keeps_other_libraries_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("channel_parser").level)
    try:
        configure_logging(load(log_level="debug"))
        logging.getLogger("httpcore2.http11").debug("send_request_headers.started")
        logging.getLogger("httpx2").info("HTTP Request: POST ...")
        logging.getLogger("channel_parser.engine").debug("ours")
        configure_logging(load(log_level="info", log_libraries="debug"))
        logging.getLogger("httpcore2.http11").debug("asked for")
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        logging.getLogger("channel_parser").setLevel(before[2])
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" - ", 1)[1] for line in lines] == ["ours", "asked for"]
