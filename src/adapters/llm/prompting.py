"""The prompt, the schema, the messages sent, and the check of what comes back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema

from channel_parser.adapters.llm.bounds import MAX_REPLY_DEPTH, MAX_SCHEMA_DEPTH, nests_deeper_than
from channel_parser.adapters.llm.schema_check import SchemaProblem, checked_validator
from channel_parser.application.errors import ConfigurationError

DEFAULTS = Path(__file__).resolve().parent / "defaults"
DEFAULT_PROMPT_FILE = DEFAULTS / "system_prompt.txt"
DEFAULT_SCHEMA_FILE = DEFAULTS / "post.schema.json"
JOB_POST_SCHEMA_FILE = DEFAULTS / "job_post.schema.json"
POST_OPEN, POST_CLOSE = "<post>", "</post>"
MAX_FILE_BYTES = 1_000_000  # a prompt or schema file larger than this is refused


@attrs.frozen
class PromptSpec:
    """The operator's system prompt (``{schema}`` is replaced by the schema) and schema,
    with the schema's validator (references resolved at load; it never fetches)."""

    prompt: str
    schema: dict[str, Any]
    validator: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def system_message(self) -> str:
        return self.prompt.replace("{schema}", json.dumps(self.schema, ensure_ascii=False))

    def fingerprint(self, model: str) -> str:
        """Equal for equal (model, prompt, schema): results made under it are reusable."""
        canonical = json.dumps(
            [model, self.prompt, self.schema], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def load_prompt_spec(prompt_file: Path | None, schema_file: Path | None) -> PromptSpec:
    """Read the operator's files (or the shipped defaults); a bad file is a ConfigurationError
    (one line naming the setting): unreadable, not UTF-8, too large, not JSON, nested too
    deeply, not a valid JSON Schema, or a ``$ref`` that does not resolve inside the file."""
    prompt = _read("LLM_PROMPT_FILE", prompt_file or DEFAULT_PROMPT_FILE)
    schema_path = schema_file or DEFAULT_SCHEMA_FILE
    text = _read("LLM_SCHEMA_FILE", schema_path)

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(f"setting LLM_SCHEMA_FILE: {schema_path} {problem}")

    if nests_deeper_than(text, MAX_SCHEMA_DEPTH):
        raise bad(f"nests deeper than {MAX_SCHEMA_DEPTH} levels")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad(f"is not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise bad("is not a JSON object")
    try:
        validator = checked_validator(schema)
    except SchemaProblem as exc:
        raise bad(str(exc)) from None
    return PromptSpec(prompt=prompt, schema=schema, validator=validator)


def _read(setting: str, path: Path) -> str:
    """A UTF-8 text file of at most MAX_FILE_BYTES (only that much is ever read)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(
            f"setting {setting}: cannot read {path}: {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigurationError(f"setting {setting}: {path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"setting {setting}: {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None


def user_message(text: str, max_chars: int) -> str:
    """The post in the user message, cut to *max_chars* with a note saying so."""
    note = ""
    if len(text) > max_chars:
        note = (
            f"\n\nNote: the post was truncated to its first {max_chars} of {len(text)} characters."
        )
        text = text[:max_chars]
    # json_object mode at OpenAI needs the word JSON in the messages, whatever the prompt says
    return f"Parse this post into one JSON object.\n{POST_OPEN}\n{text}\n{POST_CLOSE}{note}"


def repair_message(problem: str) -> str:
    return (
        f"Your answer was not accepted: {problem}\n"
        "Answer again with only one JSON object that validates against the schema."
    )


def check_output(
    content: str | None, schema: dict[str, Any], validator: Any = None
) -> dict[str, Any] | str:
    """The parsed object when *content* is JSON that fits *schema* (checked by *validator*,
    by default one made for it), else what is wrong. JSON nesting deeper than
    MAX_REPLY_DEPTH is refused before it is parsed."""
    if content is None or not content.strip():
        return "the answer was empty"
    raw = _strip_fences(content)
    if nests_deeper_than(raw, MAX_REPLY_DEPTH):
        return f"the answer nests deeper than {MAX_REPLY_DEPTH} levels"
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"the answer is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(data, dict):
        return f"the answer is JSON but not an object (got {type(data).__name__})"
    if validator is None:
        validator = checked_validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"the answer breaks the schema at {where}: {error.message}"[:500]
    return data


def _strip_fences(content: str) -> str:
    """Models sometimes wrap JSON in Markdown fences even in json_object mode."""
    text = content.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text[3:-3]
        first_newline = text.find("\n")
        if first_newline != -1 and text[:first_newline].strip().isalpha():
            text = text[first_newline + 1 :]
    return text.strip()
