"""Routes as the config file and DELIVER_WEBHOOK_URL give them: a JMESPath condition on
the result's record (https://jmespath.org; its truthiness: false, null, "", [] and {} do
not match) and, for a Telegram route, a text template (``string.Template``: ``$link``,
``${result.title}``; no code runs in it, a missing field renders as "—")."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import jmespath
from jmespath.exceptions import JMESPathError

from channel_parser.application.ports.routes import RESULT_TOPIC_PREFIX

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit for one message
MISSING = "—"


class RecordTemplate(string.Template):
    """``$name`` and ``${dotted.path}`` into the record; nothing else."""

    idpattern = r"[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*"


class _Fields(Mapping[str, str]):
    """The record's fields by dotted path, as text."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = record

    def __getitem__(self, path: str) -> str:
        value: Any = self._record
        for part in path.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return MISSING
        return _text(value)

    def __iter__(self) -> Any:
        return iter(self._record)

    def __len__(self) -> int:
        return len(self._record)


def _text(value: Any) -> str:
    if value is None or value in ("", []):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def truthy(value: Any) -> bool:
    return value not in (None, False, "", [], {})


@attrs.frozen
class Route:
    """One route: its name, condition, and what its sender gets."""

    name: str
    kind: Literal["webhook", "telegram"]
    condition: Any = None  # a compiled JMESPath expression; None: every result
    template: RecordTemplate | None = None  # a Telegram route's text

    @property
    def topic(self) -> str:
        return f"{RESULT_TOPIC_PREFIX}{self.name}"

    def matches(self, record: Mapping[str, Any]) -> bool:
        if self.condition is None:
            return True
        try:
            return truthy(self.condition.search(record))
        except Exception as exc:  # an operator's expression on any record (a function given
            # the wrong type raises a JMESPathError, or a TypeError from inside jmespath): the
            # route does not take it, and parsing goes on
            log.warning("route %s: the condition failed on %s/%s: %s", self.name,
                        record.get("channel_id"), record.get("message_id"), exc)  # fmt: skip
            return False

    def payload(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        if not self.matches(record):
            return None
        if self.template is None:
            return {"record": dict(record)}
        return {"text": self.render(record)}

    def render(self, record: Mapping[str, Any]) -> str:
        assert self.template is not None
        return self.template.substitute(_Fields(record)).strip()[:MAX_TEXT]


def compile_condition(expression: str) -> Any:
    """The compiled expression; ValueError (its message) when it is not JMESPath."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"not a JMESPath expression: {' '.join(str(exc).split())}") from None


def compile_template(text: str) -> RecordTemplate:
    """ValueError when a ``$`` is not followed by a field name (write ``$$`` for a $)."""
    template = RecordTemplate(text)
    if not template.is_valid():
        raise ValueError("a $ not followed by a field name ($link, ${result.title}; $$ for $)")
    return template
