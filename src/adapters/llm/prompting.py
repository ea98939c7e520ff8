"""The prompt, the schema, the messages sent, and the check of what comes back."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
from jsonschema.exceptions import SchemaError

from channel_parser.application.errors import ConfigurationError

DEFAULTS = Path(__file__).resolve().parent / "defaults"
DEFAULT_PROMPT_FILE = DEFAULTS / "system_prompt.txt"
DEFAULT_SCHEMA_FILE = DEFAULTS / "post.schema.json"
JOB_POST_SCHEMA_FILE = DEFAULTS / "job_post.schema.json"
POST_OPEN, POST_CLOSE = "<post>", "</post>"


@attrs.frozen
class PromptSpec:
    """The operator's system prompt (``{schema}`` is replaced by the schema) and schema."""

    prompt: str
    schema: dict[str, Any]

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
    """Read the operator's files (or the shipped defaults); a bad file is a ConfigurationError."""
    prompt_path = prompt_file or DEFAULT_PROMPT_FILE
    schema_path = schema_file or DEFAULT_SCHEMA_FILE
    try:
        prompt = prompt_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"setting LLM_PROMPT_FILE: cannot read {prompt_path}: {exc.strerror}"
        ) from None
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"setting LLM_SCHEMA_FILE: cannot read {schema_path}: {exc.strerror}"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"setting LLM_SCHEMA_FILE: {schema_path} is not JSON: {exc}"
        ) from None
    if not isinstance(schema, dict):
        raise ConfigurationError(f"setting LLM_SCHEMA_FILE: {schema_path} is not a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise ConfigurationError(
            f"setting LLM_SCHEMA_FILE: {schema_path} is not a valid JSON Schema: {exc.message}"
        ) from None
    return PromptSpec(prompt=prompt, schema=schema)


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


def check_output(content: str | None, schema: dict[str, Any]) -> dict[str, Any] | str:
    """The parsed object when *content* is JSON that fits *schema*, else what is wrong."""
    if content is None or not content.strip():
        return "the answer was empty"
    raw = _strip_fences(content)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"the answer is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if not isinstance(data, dict):
        return f"the answer is JSON but not an object (got {type(data).__name__})"
    validator_cls = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_cls(schema).iter_errors(data))
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
