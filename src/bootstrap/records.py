"""Records as ``export`` writes them: the record itself is the application's
(``application.records``), shared with delivery; here, CSV rows of it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from channel_parser.application.records import RECORD_FIELDS, post_link, record

__all__ = ["RECORD_FIELDS", "csv_columns", "csv_row", "post_link", "record", "result_fields"]


# -- CSV: one row a record, the result's fields flattened to columns --------------------

ERROR_COLUMNS = ("error_kind", "error_code", "error_message", "error_at")
OTHER_RESULT = "result_other"  # the result's fields the schema does not name, as JSON


def result_fields(schema: dict[str, Any]) -> list[str]:
    """The result's top-level fields, in the order the schema's ``properties`` list them."""
    properties = schema.get("properties")
    return list(properties) if isinstance(properties, dict) else []


def csv_columns(fields: Sequence[str]) -> list[str]:
    base = [name for name in RECORD_FIELDS if name not in ("result", "error")]
    return [*base, *ERROR_COLUMNS, *(f"result.{name}" for name in fields), OTHER_RESULT]


def csv_row(data: dict[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """Scalars as text (true/false for booleans, empty for null), nested values as JSON."""
    row = {name: _cell(value) for name, value in data.items() if name not in ("result", "error")}
    error = data["error"] or {}
    row.update({f"error_{key}": _cell(error.get(key)) for key in ("kind", "code", "message", "at")})
    result = dict(data["result"] or {})
    for name in fields:
        row[f"result.{name}"] = _cell(result.pop(name, None))
    row[OTHER_RESULT] = json.dumps(result, ensure_ascii=False) if result else ""
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
