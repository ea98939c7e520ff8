"""The Typer application every command module registers on, and its shared helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn, TypeVar

import typer

from channel_parser.application.errors import (
    ConfigurationError,
    StorageError,
    StorageUnavailable,
)

T = TypeVar("T")

app = typer.Typer(
    name="channel-parser",
    help=(
        "Turn Telegram channel posts into schema-valid JSON with an LLM, "
        "without losing a post when the LLM API pushes back.\n\n"
        "Settings come from the environment and a .env file (see the README)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_USAGE = 2  # a bad setting or argument: one line on stderr, no traceback


class ServiceStopped(Exception):
    """A part of the service (e.g. the Telegram listener) failed and stopped it."""


def package_version() -> str:
    try:
        return version("channel-parser")
    except PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit with *code*."""
    typer.echo(f"channel-parser: error: {message}", err=True)
    raise typer.Exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; bad settings (exit 2) and a store that cannot be reached
    or used (exit 3) end in one line."""
    try:
        return asyncio.run(coro)
    except ConfigurationError as exc:
        fail(str(exc))
    except StorageUnavailable as exc:
        fail(f"storage unavailable: {exc}", code=3)
    except StorageError as exc:  # e.g. a corrupt SQLite file
        fail(f"storage failed: {exc}", code=3)
    except ServiceStopped as exc:
        fail(str(exc), code=1)
