"""The ``channel-parser`` command line."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

app = typer.Typer(
    name="channel-parser",
    help=(
        "Turn Telegram channel posts into schema-valid JSON with an LLM, "
        "without losing a post when the LLM API pushes back."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    try:
        return version("channel-parser")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"channel-parser {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Turn Telegram channel posts into schema-valid JSON with an LLM."""


@app.command()
def demo() -> None:
    """Run the main job on the embedded default (not built yet: see README)."""
    typer.echo(
        "channel-parser demo is not built yet: it arrives with the Telegram/service work "
        "(issue 6). Run the tests with ./scripts/test meanwhile.",
        err=True,
    )
    raise typer.Exit(code=2)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
