"""The record a post becomes (export, show --json), its t.me link, CSV rows, the writers
and the atomic output file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from channel_parser.application.ports.storage import ChannelInfo
from channel_parser.application.use_cases.export_results import ExportedPost
from channel_parser.bootstrap.export_output import (
    ExportFormat,
    atomic_file,
    make_writer,
    reader_gone,
)
from channel_parser.bootstrap.records import (
    RECORD_FIELDS,
    csv_columns,
    post_link,
    record,
    result_fields,
)
from channel_parser.domain.failures import FailureKind
from channel_parser.domain.message import ErrorInfo
from channel_parser.domain.status import MessageStatus
from channel_parser.domain.usage import LLMUsage
from tests.unit.domain.support import T0, at, make_message

CHANNEL = -1001234567890
PUBLIC = ChannelInfo(CHANNEL, True, "Jobs", username="jobs")
PRIVATE = ChannelInfo(CHANNEL, True, "Secret")
SCHEMA = {"type": "object", "properties": {"title": {}, "tags": {}, "salary": {}, "remote": {}}}


def parsed() -> ExportedPost:
    message = make_message(
        MessageStatus.DONE,
        channel_id=CHANNEL,
        message_id=42,
        text="Ищем Python-разработчика, 300 000 ₽",
        posted_at=at(-60),
        edited_at=at(-30),
        result={"title": "Python", "tags": ["python", "remote"], "remote": True, "extra": 1},
        done_at=at(5),
        usage=LLMUsage(500, 60, 2, 1.25),
        model="glm-4.6",
        parser_fingerprint="abc",
    )
    return ExportedPost(message, PUBLIC)


def test_links_for_public_and_private_channels_and_none_when_unknown() -> None:
    assert post_link(CHANNEL, 42, PUBLIC) == "https://t.me/jobs/42"
    assert post_link(CHANNEL, 42, PRIVATE) == "https://t.me/c/1234567890/42"
    assert post_link(CHANNEL, 42, None) is None
    assert post_link(-4242, 1, ChannelInfo(-4242, True)) is None  # a basic group: no link


def test_a_record_has_everything_the_issue_lists_in_order() -> None:
    data = record(parsed())
    assert tuple(data) == RECORD_FIELDS
    assert data["channel_id"] == CHANNEL and data["channel_username"] == "jobs"
    assert data["channel_title"] == "Jobs" and data["message_id"] == 42
    assert data["link"] == "https://t.me/jobs/42"
    assert data["posted_at"] == at(-60).isoformat() and data["edited_at"] == at(-30).isoformat()
    assert data["parsed_at"] == at(5).isoformat() and data["model"] == "glm-4.6"
    assert (data["prompt_tokens"], data["completion_tokens"], data["total_tokens"]) == (
        500,
        60,
        560,
    )
    assert (data["llm_calls"], data["llm_seconds"], data["from_cache"]) == (2, 1.25, False)
    assert data["error"] is None
    json.dumps(data)  # JSON-ready


def test_a_failed_post_carries_its_last_error() -> None:
    error = ErrorInfo(FailureKind.REJECTED, "1301", "unsafe content", T0)
    failed = make_message(MessageStatus.ERROR, last_error=error, retry_count=0)
    data = record(ExportedPost(failed, None))
    assert data["error"] == {
        "kind": "rejected",
        "code": "1301",
        "message": "unsafe content",
        "at": T0.isoformat(),
    }
    assert data["result"] is None and data["link"] is None


def test_csv_flattens_the_result_by_the_schema_and_keeps_the_rest_as_json() -> None:
    fields = result_fields(SCHEMA)
    assert fields == ["title", "tags", "salary", "remote"]
    out = io.StringIO(newline="")
    writer = make_writer(ExportFormat.CSV, out, fields)
    writer.begin()
    writer.write(record(parsed()))
    writer.end()
    [row] = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert list(row) == csv_columns(fields)
    assert row["result.title"] == "Python" and json.loads(row["result.tags"]) == [
        "python",
        "remote",
    ]
    assert row["result.salary"] == "" and row["result.remote"] == "true"
    assert json.loads(row["result_other"]) == {"extra": 1}
    assert row["text"] == "Ищем Python-разработчика, 300 000 ₽" and row["error_kind"] == ""
    assert result_fields({"oneOf": []}) == []


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_json_array_is_one_document_whatever_the_count(count: int) -> None:
    out = io.StringIO()
    writer = make_writer(ExportFormat.JSON, out, [])
    writer.begin()
    for _ in range(count):
        writer.write(record(parsed()))
    writer.end()
    assert len(json.loads(out.getvalue())) == count
    lines = io.StringIO()
    jsonl = make_writer(ExportFormat.JSONL, lines, [])
    for _ in range(count):
        jsonl.write(record(parsed()))
    assert len(lines.getvalue().splitlines()) == count


def test_an_atomic_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("earlier\n")
    with pytest.raises(RuntimeError), atomic_file(target) as out:
        out.write("half of it")
        raise RuntimeError("the store went away")
    assert target.read_text() == "earlier\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with atomic_file(target) as out:
        out.write("all of it\n")
    assert target.read_text() == "all of it\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_reader_gone_is_false_for_a_file(tmp_path: Path) -> None:
    with (tmp_path / "f").open("w") as f:
        assert not reader_gone(f.fileno())
