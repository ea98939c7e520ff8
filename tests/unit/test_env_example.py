""".env.example names only real settings, and loads as it is shipped."""

from __future__ import annotations

import re
from pathlib import Path

from channel_parser.bootstrap.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


def test_every_name_in_the_example_is_a_setting() -> None:
    names = {
        found.group(1)
        for line in EXAMPLE.read_text(encoding="utf-8").splitlines()
        if (found := ASSIGNMENT.match(line))
    }
    assert names, "no settings found in .env.example"
    assert names - {field.upper() for field in Settings.model_fields} == set()


def test_the_example_as_shipped_is_valid(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name in Settings.model_fields:  # only the file counts, not this machine's environment
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert settings.llm_provider == "zai"
