"""The simulator answers under the schema the system message carries (job posts too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from channel_parser.adapters.llm.prompting import (
    JOB_POST_SCHEMA_FILE,
    check_output,
    load_prompt_spec,
    user_message,
)
from channel_parser.application.ports.llm import PostContext
from channel_parser.simulator.replies import parse_result
from channel_parser.simulator.schema_answers import answer

JOBS = load_prompt_spec(None, JOB_POST_SCHEMA_FILE)
DEFAULT = load_prompt_spec(None, None)


def body(spec, text: str, context: PostContext | None = None):  # type: ignore[no-untyped-def]
    return {
        "messages": [
            {"role": "system", "content": spec.system_message},
            {"role": "user", "content": user_message(text, 20_000, context)},
        ]
    }


@given(st.text(max_size=300))
def test_answers_fit_the_job_post_schema(text: str) -> None:
    result = answer(body(JOBS, text), text)
    assert check_output(json.dumps(result), JOBS.schema) == result


def test_the_default_schema_keeps_its_answers() -> None:
    text = "Hello #news https://example.org"
    assert answer(body(DEFAULT, text), text) == parse_result(text)


def test_a_job_post_is_read_with_its_date() -> None:
    text = (
        "Ищем Python-разработчика в Acme, удалённо (remote). Django, PostgreSQL, Docker. "
        "Отклики до пятницы: [откликнуться](https://acme.example/jobs/7), вопросы @acme_hr"
    )
    monday = PostContext(datetime(2026, 1, 19, 10, 0, tzinfo=UTC), "Jobs", "py_jobs")
    result = answer(body(JOBS, text, monday), text)
    assert result["is_job_post"] is True and result["remote"] == "remote"
    assert result["skills"] == ["python", "django", "postgresql", "docker"]
    assert result["apply_url"] == "https://acme.example/jobs/7"
    assert result["contact"] == "@acme_hr"
    assert result["deadline"] == "2026-01-23"  # the Friday after that Monday
