"""Answers for an operator's own schema: the simulator reads the JSON Schema the system
message carries and fills it from simple patterns in the post (a stand-in for a model,
enough to show a profile end to end). The default post schema keeps ``parse_result``."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any

from channel_parser.simulator.replies import parse_result

_URL = re.compile(r"https?://[^\s)\]]+")
_MENTION = re.compile(r"(?<![\w/])@[A-Za-z][\w]{3,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_NUMBER = re.compile(r"\d[\d\s]*(?:[.,]\d+)?")
_DETAILS = re.compile(r"^Details of the post[^:]*: (\{.*\})$", re.MULTILINE)
_SKILLS = (
    "python", "django", "fastapi", "flask", "sql", "postgresql", "docker", "kubernetes",
    "go", "java", "kotlin", "react", "typescript", "aws", "linux", "redis", "asyncio",
)  # fmt: skip
_JOB_WORDS = ("вакан", "ищем", "hiring", "wanted", "developer", "разработчик", "job")
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "понедельник": 0, "вторник": 1, "сред": 2, "четверг": 3, "пятниц": 4,
    "суббот": 5, "воскресень": 6,
}  # fmt: skip
_MAX_TRIES = 200


def schema_in(body: dict[str, Any]) -> dict[str, Any] | None:
    """The first JSON object with ``properties`` in the system message, if any."""
    for message in body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "system":
            continue
        text = message.get("content")
        if not isinstance(text, str):
            continue
        decoder = json.JSONDecoder()
        start = text.find("{")
        for _ in range(_MAX_TRIES):
            if start == -1:
                break
            try:
                found, _end = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                found = None
            if isinstance(found, dict) and isinstance(found.get("properties"), dict):
                return found
            start = text.find("{", start + 1)
    return None


def posted_at(body: dict[str, Any]) -> datetime | None:
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and (found := _DETAILS.search(content)):
            try:
                value = json.loads(found.group(1)).get("posted_at")
                return datetime.fromisoformat(value) if isinstance(value, str) else None
            except (ValueError, AttributeError):
                return None
    return None


def answer(body: dict[str, Any], text: str) -> dict[str, Any]:
    """What the simulator answers for *text* under the schema of *body*."""
    default = parse_result(text)
    schema = schema_in(body)
    if schema is None or set(schema["properties"]) <= set(default):
        return default
    return _object(schema, text, posted_at(body))


def _object(schema: dict[str, Any], text: str, when: datetime | None) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    return {name: _value(name, sub, text, when) for name, sub in properties.items()}


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, list):
        return set(kind)
    return {kind} if isinstance(kind, str) else set()


def _value(name: str, schema: dict[str, Any], text: str, when: datetime | None) -> Any:
    lower, types = text.lower(), _types(schema)
    nullable = "null" in types or None in (schema.get("enum") or [])
    if "enum" in schema:
        options = [o for o in schema["enum"] if o is not None]
        hit = next((o for o in options if str(o).lower() in lower), None)
        return hit if hit is not None or nullable else options[0]
    if "boolean" in types:
        return any(word in lower for word in _JOB_WORDS) if "job" in name else False
    if "array" in types:
        if "skill" in name:
            return [s for s in _SKILLS if re.search(rf"\b{s}\b", lower)]
        return _URL.findall(text) if "link" in name or "url" in name else []
    if "object" in types:
        return None if nullable else _object(schema, text, when)
    if "number" in types or "integer" in types:
        found = _NUMBER.search(text)
        number = float(found.group().replace(" ", "").replace(",", ".")) if found else None
        return number if number is not None or nullable else 0
    found_text = _string(name, schema, text, when)
    return found_text if found_text is not None or nullable else (text.strip()[:80] or "-")


def _string(name: str, schema: dict[str, Any], text: str, when: datetime | None) -> str | None:
    if "url" in name or "link" in name:
        urls = _URL.findall(text)
        return urls[0] if urls else None
    if "contact" in name:
        found = _MENTION.search(text) or _EMAIL.search(text)
        return found.group() if found else None
    if schema.get("format") == "date" or "date" in name or "deadline" in name:
        due = _weekday_after(text, when)
        return None if due is None else due.isoformat()
    if name in ("title", "summary", "name"):
        first = re.split(r"(?<=[.!?\n])\s", text.strip(), maxsplit=1)[0]
        return first.strip()[:120] or None
    return None


def _weekday_after(text: str, when: datetime | None) -> date | None:
    """ "until Friday": the next such day on or after the day it was posted."""
    if when is None:
        return None
    lower = text.lower()
    for word, weekday in _WEEKDAYS.items():
        if word in lower:
            start = when.date()
            return start + timedelta(days=(weekday - start.weekday()) % 7)
    return None
