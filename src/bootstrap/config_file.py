"""The config file (``CONFIG_FILE``, TOML): profiles, which give channels a prompt and a
schema of their own, and delivery routes. Read once at start; anything wrong in it stops
every command with one line naming the file and the place (exit 2)."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path
from typing import Annotated, Any

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from channel_parser.adapters.deliver.routes import compile_condition, compile_template
from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.llm import DEFAULT_PROFILE
from channel_parser.bootstrap.settings import http_url

MAX_CONFIG_BYTES = 1_000_000
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def channel_ref(ref: str) -> int | str:
    """A marked id (``-100…``) as an int; ``@name``, ``name`` or ``https://t.me/name`` as the
    name (lower case, without the @). ValueError for anything else."""
    text = ref.strip()
    with contextlib.suppress(ValueError):
        return int(text)
    for prefix in ("https://t.me/", "http://t.me/", "t.me/"):
        text = text.removeprefix(prefix)
    name = text.removeprefix("@").strip("/")
    if not name or not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"{ref!r} is not a channel id (-100…), @username or t.me link")
    return name.lower()


class ProfileConfig(BaseModel):
    """``[profiles.NAME]``: the channels it parses, and its prompt and schema (each left
    out: the default profile's, from the environment)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channels: list[str] = Field(min_length=1, max_length=10_000)
    schema_name: Name | None = Field(default=None, alias="schema")  # a shipped schema
    schema_file: Path | None = None
    prompt_file: Path | None = None

    @field_validator("channels")
    @classmethod
    def _refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            channel_ref(ref)
        return refs

    def model_post_init(self, context: Any) -> None:
        if self.schema_name is not None and self.schema_file is not None:
            raise ValueError("schema (a shipped one) and schema_file (your own): set one")


class RouteConfig(BaseModel):
    """``[[routes]]``: where results that match a condition go (a webhook or a chat)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    when: str | None = Field(default=None, max_length=4000)  # JMESPath on the record
    webhook: str | None = Field(default=None, max_length=4000)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
    telegram_chat: str | None = Field(default=None, pattern=r"^(-?\d{1,20}|@[A-Za-z]\w{3,31})$")
    template: str | None = Field(default=None, max_length=4096)

    @field_validator("when")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            compile_condition(value)
        return value

    @field_validator("webhook")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            compile_template(value)
        return value

    def model_post_init(self, context: Any) -> None:
        if (self.webhook is None) == (self.telegram_chat is None):
            raise ValueError("a route has one of webhook or telegram_chat")
        if self.telegram_chat is not None and self.template is None:
            raise ValueError("a telegram_chat route needs a template")
        if self.webhook is not None and self.template is not None:
            raise ValueError("a webhook route sends the record: it takes no template")
        if self.webhook is None and self.secret_env is not None:
            raise ValueError("secret_env signs a webhook's bodies: only a webhook takes it")


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profiles: dict[Name, ProfileConfig] = Field(default_factory=dict)
    routes: list[RouteConfig] = Field(default_factory=list, max_length=100)

    @field_validator("routes")
    @classmethod
    def _route_names(cls, routes: list[RouteConfig]) -> list[RouteConfig]:
        names = [route.name for route in routes]
        if twice := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"route names must differ: {', '.join(twice)}")
        return routes

    @field_validator("profiles")
    @classmethod
    def _distinct(cls, profiles: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        if DEFAULT_PROFILE in profiles:
            raise ValueError(
                f"no profile may be named {DEFAULT_PROFILE!r}: the environment's settings are it"
            )
        owner: dict[int | str, str] = {}
        for name, profile in profiles.items():
            for ref in profile.channels:
                key = channel_ref(ref)
                if key in owner and owner[key] != name:
                    raise ValueError(f"channel {ref} is in both {owner[key]!r} and {name!r}")
                owner[key] = name
        return profiles


@attrs.frozen
class LoadedConfig:
    content: ConfigFile
    path: Path | None = None  # None: no config file

    def resolve(self, relative: Path) -> Path:
        """A path written in the file, taken from the file's folder."""
        return relative if self.path is None else self.path.parent / relative

    def setting(self, where: str) -> str:
        """How an error names a place in the file: ``CONFIG_FILE (path) profiles.x.y``."""
        return f"CONFIG_FILE ({self.path}) {where}"


def load_config_file(path: Path | None) -> LoadedConfig:
    """The file's content (nothing for no file). ConfigurationError, one line, for anything
    wrong with it."""
    if path is None:
        return LoadedConfig(ConfigFile())

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(f"setting CONFIG_FILE: {path}: {problem}")

    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise bad(f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise bad(f"larger than {MAX_CONFIG_BYTES} bytes")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise bad(f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise bad(f"not TOML: {exc}") from None
    try:
        return LoadedConfig(ConfigFile.model_validate(raw), path)
    except ValidationError as exc:
        raise bad(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    tail = f" (and {more} more)" if more else ""
    return f"{where}: {message}{tail}" if where else f"{message}{tail}"
