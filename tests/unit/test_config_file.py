"""The config file: profiles (channels -> prompt + schema) read and checked at start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from channel_parser.adapters.llm.prompting import JOB_POST_SCHEMA_FILE
from channel_parser.application.errors import ConfigurationError
from channel_parser.bootstrap.config_file import load_config_file
from channel_parser.bootstrap.profiles import parser_profiles
from channel_parser.bootstrap.settings import Settings

SETTINGS = Settings.model_construct()  # defaults only: no environment, no .env


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channel-parser.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_file_is_one_default_profile() -> None:
    profiles = parser_profiles(SETTINGS, load_config_file(None))
    assert list(profiles.specs) == ["default"]
    assert profiles.table.for_channel(-1001).name == "default"
    assert profiles.model == "glm-4.6"


def test_profiles_give_channels_their_prompt_and_schema(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    prices = {"type": "object", "properties": {"price": {"type": ["number", "null"]}}}
    (tmp_path / "schemas" / "prices.json").write_text(json.dumps(prices))
    (tmp_path / "prices.txt").write_text("Find the price. Schema: {schema}")
    path = write(
        tmp_path,
        """
        [profiles.jobs]
        channels = ["@Python_Jobs", "https://t.me/remote_it", "-1001234567890"]
        schema = "job_post"

        [profiles.prices]
        channels = ["gpu_prices"]
        schema_file = "schemas/prices.json"   # from the file's folder
        prompt_file = "prices.txt"
        """,
    )
    profiles = parser_profiles(SETTINGS, load_config_file(path))
    table = profiles.table
    assert table.for_channel(-1001234567890).name == "jobs"
    assert table.for_channel(-1, "python_jobs").name == "jobs"
    assert table.for_channel(-2, "REMOTE_IT").name == "jobs"
    assert table.for_channel(-3, "gpu_prices").name == "prices"
    assert table.for_channel(-4, "news").name == "default"
    assert profiles.specs["jobs"].schema == json.loads(JOB_POST_SCHEMA_FILE.read_text())
    assert profiles.specs["prices"].schema == prices
    assert profiles.specs["prices"].prompt.startswith("Find the price.")
    assert profiles.specs["jobs"].prompt == profiles.specs["default"].prompt
    fingerprints = {p.fingerprint for p in table.profiles()}
    assert len(fingerprints) == 3


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[profiles.jobs\n", "not TOML"),
        ('[profiles.jobs]\nchannels = ["@a"]\nshema = "job_post"\n', "profiles.jobs.shema"),
        ('[profiles.default]\nchannels = ["@a"]\n', "no profile may be named 'default'"),
        ('[profiles.a]\nchannels = ["@x"]\n[profiles.b]\nchannels = ["@X"]\n', "in both"),
        ("[profiles.a]\nchannels = []\n", "profiles.a.channels"),
        ('[profiles.a]\nchannels = ["not a channel"]\n', "not a channel id"),
        (
            '[profiles.a]\nchannels = ["@a"]\nschema = "post"\nschema_file = "x.json"\n',
            "set one",
        ),
        ('[profiles.a]\nchannels = ["@a"]\nschema = "jobs"\n', "no shipped schema 'jobs'"),
        ('[profiles.a]\nchannels = ["@a"]\nprompt_file = "p.txt"\n', "profiles.a.prompt_file"),
        ('[profiles.a]\nchannels = ["@a"]\nprompt_file = "bare.txt"\n', "{schema}"),
        ('[profiles.a]\nchannels = ["@a"]\nschema_file = "bad.json"\n', "is not JSON"),
        ("[unknown]\nx = 1\n", "unknown"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "bare.txt").write_text("No placeholder here.")
    (tmp_path / "bad.json").write_text("{nope")
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as refused:
        parser_profiles(SETTINGS, load_config_file(path))
    line = str(refused.value)
    assert line.startswith("setting CONFIG_FILE"), line
    assert problem in line and "\n" not in line


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"setting CONFIG_FILE: .*cannot read it"):
        load_config_file(tmp_path / "nope.toml")


def test_llm_schema_names_a_shipped_schema() -> None:
    settings = Settings.model_construct(llm_schema="job_post")
    profiles = parser_profiles(settings, load_config_file(None))
    assert profiles.specs["default"].schema == json.loads(JOB_POST_SCHEMA_FILE.read_text())
    with pytest.raises(ConfigurationError, match="setting LLM_SCHEMA: no shipped schema"):
        parser_profiles(Settings.model_construct(llm_schema="jobz"), load_config_file(None))


def test_a_shipped_schema_and_a_schema_file_together_are_one_line() -> None:
    from channel_parser.bootstrap.settings import load_settings

    with pytest.raises(ConfigurationError) as refused:
        load_settings(_env_file=None, llm_schema="job_post", llm_schema_file="my.json")
    assert str(refused.value) == (
        "settings: LLM_SCHEMA (a shipped schema) and LLM_SCHEMA_FILE (your own) are both set: "
        "set one of them"
    )
