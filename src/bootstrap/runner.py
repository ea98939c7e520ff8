"""How a command runs: settings loaded once, logging set up, the container built, the
command's ``@inject`` entry point given its objects, every resource closed at the end."""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from dependency_injector import providers

from channel_parser.bootstrap.app import run_async
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.logs import configure_logging
from channel_parser.bootstrap.settings import Settings, load_settings

T = TypeVar("T")


async def shutdown(container: Container) -> None:
    """Close every resource the container opened (none opened: nothing to await)."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):
        await closing


async def run_in(
    container: Container, entry: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
) -> T:
    """Wire *entry*'s module to *container*, run it, and close every resource after.
    When *entry* fails, its error is the one raised (not one that closing half-built
    resources raises after it, e.g. "the SQLite database is not open")."""
    container.wire(modules=[sys.modules[entry.__module__]])
    try:
        result = await entry(*args, **kwargs)
    except BaseException:
        with contextlib.suppress(Exception):
            await shutdown(container)
        raise
    finally:
        container.unwire()
    await shutdown(container)
    return result


def run_command(
    entry: Callable[..., Awaitable[T]],
    *args: Any,
    overrides: Mapping[str, providers.Provider[Any]] | None = None,
    settings: Settings | None = None,
    **kwargs: Any,
) -> T:
    """Run a command's entry point with the settings from the environment. Bad settings
    and an unreachable store end in one line (see bootstrap.app.run_async)."""

    async def main() -> T:
        loaded = settings or load_settings()
        configure_logging(loaded)
        container = Container(settings=loaded)
        for name, provider in (overrides or {}).items():
            getattr(container, name).override(provider)
        return await run_in(container, entry, *args, **kwargs)

    return run_async(main())
