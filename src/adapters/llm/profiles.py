"""The parser's profiles loaded from their files: a ``PromptSpec`` for each, and the
``ProfileTable`` that says which channel each parses (the default profile is the
environment's settings; others come from the config file)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from channel_parser.adapters.llm.prompting import PromptSpec, load_prompt_spec, shipped_schema
from channel_parser.application.ports.llm import DEFAULT_PROFILE, ParserProfile
from channel_parser.application.profiles import ProfileTable


@attrs.frozen
class ProfileSource:
    """Where one profile's prompt and schema are (None: the shipped ones), the channels it
    parses (ids and usernames), and how to name its settings in an error."""

    name: str
    prompt_file: Path | None = None
    schema_file: Path | None = None
    channel_ids: tuple[int, ...] = ()
    usernames: tuple[str, ...] = ()
    prompt_setting: str = "LLM_PROMPT_FILE"
    schema_setting: str = "LLM_SCHEMA_FILE"


@attrs.frozen
class LoadedProfiles:
    specs: Mapping[str, PromptSpec]  # by profile name
    table: ProfileTable
    model: str


def profile_of(name: str, spec: PromptSpec, model: str) -> ParserProfile:
    return ParserProfile(name, spec.fingerprint(model), spec.spec_hash)


def load_profiles(
    model: str, default: ProfileSource, others: Sequence[ProfileSource] = ()
) -> LoadedProfiles:
    """Read every profile's files (a bad one is a ConfigurationError naming its setting).
    *default* is named DEFAULT_PROFILE; no other may be."""
    if default.name != DEFAULT_PROFILE or any(s.name == DEFAULT_PROFILE for s in others):
        raise ValueError(f"only the default profile is named {DEFAULT_PROFILE!r}")
    specs: dict[str, PromptSpec] = {}
    by_id: dict[int, str] = {}
    by_username: dict[str, str] = {}
    for source in (default, *others):
        specs[source.name] = load_prompt_spec(
            source.prompt_file,
            source.schema_file,
            prompt_setting=source.prompt_setting,
            schema_setting=source.schema_setting,
        )
        if source.name != DEFAULT_PROFILE:
            by_id.update(dict.fromkeys(source.channel_ids, source.name))
            by_username.update(dict.fromkeys(source.usernames, source.name))
    table = ProfileTable(
        default=profile_of(DEFAULT_PROFILE, specs[DEFAULT_PROFILE], model),
        others={s.name: profile_of(s.name, specs[s.name], model) for s in others},
        by_id=by_id,
        by_username=by_username,
    )
    return LoadedProfiles(specs, table, model)


def default_source(settings: Any) -> ProfileSource:
    """The default profile from ``bootstrap.settings.Settings`` (duck-typed): LLM_PROMPT_FILE,
    and LLM_SCHEMA (a shipped schema's name) or LLM_SCHEMA_FILE."""
    name = getattr(settings, "llm_schema", None)
    schema_file = shipped_schema(name) if name else settings.llm_schema_file
    setting = "LLM_SCHEMA" if name else "LLM_SCHEMA_FILE"
    return ProfileSource(
        DEFAULT_PROFILE, settings.llm_prompt_file, schema_file, schema_setting=setting
    )


def single_profile(spec: PromptSpec, model: str) -> LoadedProfiles:
    """One profile, the default, for every channel."""
    return LoadedProfiles(
        {DEFAULT_PROFILE: spec}, ProfileTable(profile_of(DEFAULT_PROFILE, spec, model)), model
    )
