"""``channel-parser parse``: parse one text with the configured provider and print the JSON."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.llm import (
    DEFAULT_PROFILE,
    ParseOutcome,
    ParseRequest,
    ParseSuccess,
    PostContext,
)
from channel_parser.bootstrap.app import app, fail, run_async
from channel_parser.bootstrap.settings import load_settings
from channel_parser.domain.failures import FailureKind

EXIT_CODES: dict[FailureKind, int] = {
    FailureKind.QUOTA_EXHAUSTED: 4,
    FailureKind.CONCURRENCY_LIMITED: 5,
    FailureKind.RATE_LIMITED: 5,
    FailureKind.TRANSIENT: 6,
    FailureKind.REJECTED: 7,
    FailureKind.MISCONFIGURED: 8,
}

HELP = """Parse one text with the configured LLM provider and print the JSON result.

The provider, base URL, model and key come from LLM_PROVIDER, LLM_BASE_URL, LLM_MODEL and
LLM_API_KEY (or a .env file), or from the flags below.

Exit codes: 0 parsed; 2 bad settings or arguments; 4 quota_exhausted; 5 concurrency_limited
or rate_limited; 6 transient (timeout, 5xx, connection); 7 rejected (content refused,
prompt too long, invalid output); 8 misconfigured (key, model, URL).
"""


def _read_text(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        fail("give the text as an argument or --file FILE (- for stdin), not both")
    if file is None:
        assert text is not None
        return text
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")


@app.command(help=HELP)
def parse(
    text: str | None = typer.Argument(None, help="The post's text."),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the text from FILE (- for stdin).")
    ] = None,
    provider: str | None = typer.Option(
        None, help="zai, zai-coding, openai or compatible [LLM_PROVIDER]."
    ),
    base_url: str | None = typer.Option(None, help="The API's base URL [LLM_BASE_URL]."),
    model: str | None = typer.Option(None, help="The model [LLM_MODEL]."),
    api_key: str | None = typer.Option(
        None, help="The API key [LLM_API_KEY]; prefer the variable."
    ),
    timeout: float | None = typer.Option(None, help="Seconds per call [LLM_TIMEOUT, 60]."),
    schema_file: Annotated[
        Path | None, typer.Option(help="JSON Schema of the result [LLM_SCHEMA_FILE].")
    ] = None,
    schema: str | None = typer.Option(
        None, help="A shipped schema instead: post or job_post [LLM_SCHEMA]."
    ),
    profile: str | None = typer.Option(
        None, help="Parse under this profile of the config file [CONFIG_FILE]."
    ),
    posted_at: str | None = typer.Option(
        None, help="When the post was posted (ISO 8601), told to the model with it."
    ),
    prompt_file: Annotated[
        Path | None, typer.Option(help="System prompt [LLM_PROMPT_FILE].")
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print failures as JSON on stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the adapter's log lines."),
) -> None:
    # --verbose: our adapter's lines; other libraries only from WARNING (no HTTP chatter).
    logging.basicConfig(level=logging.WARNING if verbose else logging.CRITICAL, stream=sys.stderr)
    logging.getLogger("channel_parser").setLevel(logging.INFO if verbose else logging.CRITICAL)
    post = _read_text(text, file)
    flags: dict[str, Any] = {
        "llm_provider": provider,
        "llm_base_url": base_url,
        "llm_model": model,
        "llm_api_key": api_key,
        "llm_timeout": timeout,
        "llm_schema_file": schema_file,
        "llm_schema": schema,
        "llm_prompt_file": prompt_file,
    }
    overrides = {name: value for name, value in flags.items() if value is not None}
    from channel_parser.bootstrap.commands.results import parse_time

    context = PostContext(posted_at=parse_time(posted_at, "--posted-at"))
    outcome = run_async(_parse_one(post, overrides, profile, context))
    if isinstance(outcome, ParseSuccess):
        typer.echo(json.dumps(outcome.data, ensure_ascii=False, indent=2))
        return
    code = EXIT_CODES[outcome.kind]
    if as_json:
        result = {
            "ok": False,
            "kind": outcome.kind.value,
            "code": outcome.code,
            "message": outcome.message,
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        raise typer.Exit(code)
    fail(f"{outcome.kind.value} (code {outcome.code}): {' '.join(outcome.message.split())}", code)


async def _parse_one(
    text: str, overrides: dict[str, Any], profile: str | None, context: PostContext
) -> ParseOutcome:
    from channel_parser.adapters.llm.openai_compatible import (
        OpenAICompatibleParser,  # heavy: only when used
    )
    from channel_parser.adapters.llm.profiles import single_profile
    from channel_parser.bootstrap.config_file import load_config_file
    from channel_parser.bootstrap.profiles import parser_profiles

    settings = load_settings(**overrides)
    profiles = parser_profiles(settings, load_config_file(settings.config_file))
    chosen = profile or DEFAULT_PROFILE
    if chosen not in profiles.specs:
        known = ", ".join(profiles.specs)
        raise ConfigurationError(f"--profile: no profile {chosen!r} ({known})")
    one = single_profile(profiles.specs[chosen], profiles.model)
    async with OpenAICompatibleParser.from_settings(settings, profiles=one) as parser:
        return await parser.parse(ParseRequest(text, "cli", context=context))
