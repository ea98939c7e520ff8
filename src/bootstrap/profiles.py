"""The parser's profiles from the settings (the default profile) and the config file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channel_parser.bootstrap.config_file import LoadedConfig, channel_ref
from channel_parser.bootstrap.settings import Settings

if TYPE_CHECKING:
    from channel_parser.adapters.llm.profiles import LoadedProfiles


def parser_profiles(settings: Settings, config: LoadedConfig) -> LoadedProfiles:
    """Every profile's prompt and schema read and checked (ConfigurationError naming the
    setting or the place in the config file), for the configured model."""
    from channel_parser.adapters.llm.profiles import ProfileSource, default_source, load_profiles
    from channel_parser.adapters.llm.prompting import shipped_schema
    from channel_parser.adapters.llm.providers import resolve_model

    default = default_source(settings)
    others = []
    for name, profile in config.content.profiles.items():
        where = f"profiles.{name}"
        schema_file, schema_setting = default.schema_file, default.schema_setting
        if profile.schema_name is not None:
            schema_setting = config.setting(f"{where}.schema")
            schema_file = shipped_schema(profile.schema_name, schema_setting)
        elif profile.schema_file is not None:
            schema_setting = config.setting(f"{where}.schema_file")
            schema_file = config.resolve(profile.schema_file)
        prompt_file, prompt_setting = default.prompt_file, default.prompt_setting
        if profile.prompt_file is not None:
            prompt_file = config.resolve(profile.prompt_file)
            prompt_setting = config.setting(f"{where}.prompt_file")
        refs = [channel_ref(ref) for ref in profile.channels]
        others.append(
            ProfileSource(
                name,
                prompt_file,
                schema_file,
                tuple(ref for ref in refs if isinstance(ref, int)),
                tuple(ref for ref in refs if isinstance(ref, str)),
                prompt_setting=prompt_setting,
                schema_setting=schema_setting,
            )
        )
    model = resolve_model(settings.llm_provider, settings.llm_model)
    return load_profiles(model, default, others)
