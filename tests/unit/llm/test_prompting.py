"""Messages sent to the model and the check of its answer: no network."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channel_parser.adapters.llm.prompting import (
    DEFAULT_SCHEMA_FILE,
    JOB_POST_SCHEMA_FILE,
    check_output,
    load_prompt_spec,
    repair_message,
    shipped_schema,
    shipped_schemas,
    user_message,
)
from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.llm import PostContext
from channel_parser.simulator.replies import parse_result

SPEC = load_prompt_spec(None, None)
GOOD = {
    "summary": "A launch.",
    "language": "en",
    "topics": ["space"],
    "entities": [{"name": "NASA", "type": "organization"}],
    "links": [],
    "is_advertisement": False,
}


def test_the_shipped_defaults_load_and_the_prompt_carries_the_schema() -> None:
    assert SPEC.schema == json.loads(DEFAULT_SCHEMA_FILE.read_text())
    assert '"is_advertisement"' in SPEC.system_message
    assert "{schema}" not in SPEC.system_message


def test_the_job_post_example_is_a_valid_schema() -> None:
    spec = load_prompt_spec(None, JOB_POST_SCHEMA_FILE)
    job = {
        "is_job_post": True,
        "title": "Python developer",
        "company": "Acme",
        "location": None,
        "remote": "remote",
        "salary": None,
        "skills": ["python"],
        "contact": "@acme_hr",
        "apply_url": "https://acme.example/jobs/7",
        "deadline": "2026-01-30",
    }
    assert check_output(json.dumps(job), spec.schema) == job


def test_the_post_goes_in_the_user_message() -> None:
    message = user_message("Hello, world", 100)
    assert "<post>\nHello, world\n</post>" in message
    assert "truncated" not in message
    assert "Details" not in message  # nothing known of it: no details line


def test_the_posts_time_and_channel_go_before_it_as_data() -> None:
    context = PostContext(
        datetime(2026, 1, 23, 12, 30, tzinfo=timezone(timedelta(hours=3))),
        "Вакансии <b>Python</b>",
        "py_jobs",
    )
    message = user_message("Apply until Monday", 100, context)
    details, post = message.split("<post>")
    assert post == "\nApply until Monday\n</post>"
    about = json.loads(details.split(": ", 1)[1])
    assert about == {
        "channel": "Вакансии <b>Python</b>",
        "channel_username": "@py_jobs",
        "posted_at": "2026-01-23T09:30:00Z",
        "posted_weekday": "Friday",
    }
    assert "<b>" not in details  # a title cannot open or close the post's tags


def test_a_prompt_without_the_schema_placeholder_is_refused(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Extract the job title as JSON.", encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        load_prompt_spec(prompt, None)
    line = str(refused.value)
    assert line.startswith("setting LLM_PROMPT_FILE:") and "{schema}" in line
    assert "\n" not in line


def test_shipped_schemas_are_found_by_name() -> None:
    assert shipped_schemas() == ["job_post", "post"]
    assert shipped_schema("job_post") == JOB_POST_SCHEMA_FILE
    with pytest.raises(ConfigurationError, match="setting LLM_SCHEMA: no shipped schema 'jobs'"):
        shipped_schema("jobs")


def test_the_spec_hash_is_of_prompt_and_schema_only() -> None:
    jobs = load_prompt_spec(None, JOB_POST_SCHEMA_FILE)
    assert len(SPEC.spec_hash) == 12 and SPEC.spec_hash != jobs.spec_hash
    assert SPEC.fingerprint("glm-4.6") != SPEC.fingerprint("glm-4.5")  # the model counts there


def test_a_long_post_is_truncated_and_says_so() -> None:
    message = user_message("x" * 150, 100)
    assert "x" * 100 + "\n</post>" in message
    assert "truncated to its first 100 of 150 characters" in message


def test_a_valid_answer_is_accepted() -> None:
    assert check_output(json.dumps(GOOD), SPEC.schema) == GOOD
    assert check_output("```json\n" + json.dumps(GOOD) + "\n```", SPEC.schema) == GOOD


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "empty"),
        ("  ", "empty"),
        ("Sure! Here it is.", "not JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({**GOOD, "language": "english"}), "at language"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "topics"}), "'topics' is a required"),
    ],
)
def test_a_bad_answer_says_what_is_wrong(content: str | None, problem: str) -> None:
    result = check_output(content, SPEC.schema)
    assert isinstance(result, str)
    assert problem in result


def test_the_repair_message_carries_the_problem() -> None:
    assert "breaks the schema at language" in repair_message(
        "the answer breaks the schema at language"
    )


def test_the_fingerprint_changes_with_model_prompt_and_schema(tmp_path: Path) -> None:
    base = SPEC.fingerprint("glm-4.6")
    assert base == load_prompt_spec(None, None).fingerprint("glm-4.6")
    assert base != SPEC.fingerprint("glm-4.5")
    prompt = tmp_path / "p.txt"
    prompt.write_text("Other prompt {schema}")
    assert load_prompt_spec(prompt, None).fingerprint("glm-4.6") != base
    assert load_prompt_spec(None, JOB_POST_SCHEMA_FILE).fingerprint("glm-4.6") != base


@pytest.mark.parametrize(
    ("name", "content", "setting"),
    [
        ("missing.json", None, "LLM_SCHEMA_FILE"),
        ("bad.json", "{not json", "LLM_SCHEMA_FILE"),
        ("list.json", "[]", "LLM_SCHEMA_FILE"),
        ("invalid.json", '{"type": 5}', "LLM_SCHEMA_FILE"),
    ],
)
def test_a_bad_schema_file_is_a_configuration_error(
    tmp_path: Path, name: str, content: str | None, setting: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=setting):
        load_prompt_spec(None, path)


def test_a_missing_prompt_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LLM_PROMPT_FILE"):
        load_prompt_spec(tmp_path / "nope.txt", None)


@given(st.text(max_size=300))
def test_the_simulators_answers_fit_the_default_schema(text: str) -> None:
    result = parse_result(text)
    assert check_output(json.dumps(result), SPEC.schema) == result
    assert parse_result(text) == result  # deterministic
