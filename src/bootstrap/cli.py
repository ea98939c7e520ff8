"""The ``channel-parser`` command line: the root options, then every command module."""

from __future__ import annotations

import typer

from channel_parser.bootstrap.app import app, package_version


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"channel-parser {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Turn Telegram channel posts into schema-valid JSON with an LLM."""


# Each module registers its commands on `app` when imported.
from channel_parser.bootstrap.commands import demo as _demo  # noqa: E402, F401
from channel_parser.bootstrap.commands import importer as _importer  # noqa: E402, F401
from channel_parser.bootstrap.commands import login as _login  # noqa: E402, F401
from channel_parser.bootstrap.commands import operate as _operate  # noqa: E402, F401
from channel_parser.bootstrap.commands import parse as _parse  # noqa: E402, F401
from channel_parser.bootstrap.commands import results as _results  # noqa: E402, F401
from channel_parser.bootstrap.commands import run as _run  # noqa: E402, F401
from channel_parser.bootstrap.commands import simulate as _simulate  # noqa: E402, F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
