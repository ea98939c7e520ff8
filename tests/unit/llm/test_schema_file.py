"""The operator's schema and prompt files, refused at start with one line naming the
setting when they cannot be used safely: unresolvable or remote $refs (nothing is ever
fetched), a file that is not UTF-8, too large, or nested deeper than can be checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from channel_parser.adapters.llm.prompting import MAX_FILE_BYTES, check_output, load_prompt_spec
from channel_parser.application.errors import ConfigurationError

WITH_DEFS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"price": {"$ref": "#/$defs/money"}},
    "required": ["price"],
    "$defs": {"money": {"type": "object", "properties": {"amount": {"type": "number"}}}},
}


def schema_file(tmp_path: Path, schema: object, name: str = "schema.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def test_local_refs_are_resolved_and_used_by_the_check(tmp_path: Path) -> None:
    spec = load_prompt_spec(None, schema_file(tmp_path, WITH_DEFS))
    good = {"price": {"amount": 5}}
    assert check_output(json.dumps(good), spec.schema, spec.validator) == good
    problem = check_output('{"price": {"amount": "five"}}', spec.schema, spec.validator)
    assert isinstance(problem, str) and "price/amount" in problem


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        ("#/$defs/nowhere", "does not resolve inside the file"),
        ("#/definitions/money", "does not resolve inside the file"),
        ("https://127.0.0.1:9/money.json", "references outside the file are not fetched"),
        ("money.json", "references outside the file are not fetched"),
    ],
)
def test_a_ref_that_does_not_resolve_inside_the_file_is_refused_at_start(
    tmp_path: Path, ref: str, said: str
) -> None:
    schema = {**WITH_DEFS, "properties": {"price": {"$ref": ref}}}
    with pytest.raises(ConfigurationError, match="setting LLM_SCHEMA_FILE") as refused:
        load_prompt_spec(None, schema_file(tmp_path, schema))
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_a_ref_inside_data_keywords_is_data(tmp_path: Path) -> None:
    schema = {**WITH_DEFS, "examples": [{"$ref": "#/not/a/ref"}], "const": None}
    schema.pop("const")
    assert load_prompt_spec(None, schema_file(tmp_path, schema)).validator is not None


def test_a_utf16_schema_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "utf16.json"
    path.write_text(json.dumps(WITH_DEFS), encoding="utf-16")
    with pytest.raises(ConfigurationError, match="is not UTF-8 text"):
        load_prompt_spec(None, path)


def test_a_utf16_prompt_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Разбери пост. {schema}", encoding="utf-16")
    with pytest.raises(ConfigurationError, match=r"setting LLM_PROMPT_FILE: .* not UTF-8"):
        load_prompt_spec(path, None)


def test_a_schema_nested_a_hundred_thousand_deep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"not":' * 100_000 + "{}" + "}" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="nests deeper than 100 levels"):
        load_prompt_spec(None, path)


def test_a_schema_just_within_the_depth_bound_is_checked(tmp_path: Path) -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(49):  # 99 levels of JSON: within the bound
        schema = {"type": "object", "properties": {"a": schema}}
    assert load_prompt_spec(None, schema_file(tmp_path, schema)).validator is not None


def test_a_file_larger_than_the_bound_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigurationError, match=r"LLM_PROMPT_FILE: .* larger than"):
        load_prompt_spec(path, None)


def test_an_answer_nested_a_hundred_thousand_deep_is_a_problem_not_a_crash() -> None:
    spec = load_prompt_spec(None, None)
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    assert check_output(deep, spec.schema, spec.validator) == (
        "the answer nests deeper than 64 levels"
    )
