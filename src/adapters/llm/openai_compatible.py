"""``OpenAICompatibleParser``: the ``LLMParser`` port on the official ``openai`` SDK."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import attrs
import openai

from channel_parser.adapters.llm.classifier import classify_status, error_object
from channel_parser.adapters.llm.logs import log_failure
from channel_parser.adapters.llm.prompting import (
    PromptSpec,
    check_output,
    load_prompt_spec,
    repair_message,
    user_message,
)
from channel_parser.adapters.llm.providers import ProviderConfig, resolve_provider
from channel_parser.adapters.llm.redact import redact
from channel_parser.adapters.llm.sdk_errors import failure_from_sdk_error, sdk_error_text
from channel_parser.application.ports.llm import ParseOutcome, ParseRequest, ParseSuccess
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.usage import NO_USAGE, LLMUsage

logger = logging.getLogger(__name__)

Message = dict[str, str]
CONTENT_FILTERED = frozenset({"sensitive", "content_filter"})
ONE_CALL = LLMUsage(calls=1)


@attrs.frozen
class _Reply:
    """One completion: its text (None when it carries none), what it cost, the model."""

    content: str | None
    usage: LLMUsage
    model: str | None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OpenAICompatibleParser:
    """Parses a post with one chat completion (two when the first answer must be repaired)."""

    def __init__(
        self,
        config: ProviderConfig,
        spec: PromptSpec,
        *,
        timeout: float = 60.0,
        max_post_chars: int = 20_000,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._config = config
        self._spec = spec
        self._timeout = timeout
        self._max_post_chars = max_post_chars
        self._now = now
        # We own retries (backoff per message, SPEC.md): the SDK's own are off.
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=timeout,
            max_retries=0,
        )

    @classmethod
    def from_settings(
        cls, settings: Any, now: Callable[[], datetime] = _utc_now
    ) -> OpenAICompatibleParser:
        """Build from ``bootstrap.settings.Settings`` (duck-typed: adapters do not import it)."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        config = resolve_provider(
            settings.llm_provider,
            settings.llm_base_url,
            settings.llm_model,
            key,
            thinking=getattr(settings, "llm_thinking", None),
            max_output_tokens=getattr(settings, "llm_max_output_tokens", 0),
        )
        spec = load_prompt_spec(settings.llm_prompt_file, settings.llm_schema_file)
        return cls(
            config,
            spec,
            timeout=settings.llm_timeout,
            max_post_chars=settings.llm_max_post_chars,
            now=now,
        )

    @property
    def provider(self) -> str:
        return self._config.name

    @property
    def model(self) -> str:
        return self._config.model

    @property
    def fingerprint(self) -> str:
        return self._spec.fingerprint(self._config.model)

    async def parse(self, request: ParseRequest) -> ParseOutcome:
        messages: list[Message] = [
            {"role": "system", "content": self._spec.system_message},
            {"role": "user", "content": user_message(request.text, self._max_post_chars)},
        ]
        problem = ""
        spent = NO_USAGE  # every call of this parse, the repair's too
        for attempt in (1, 2):
            reply = await self._complete(messages, request)
            if isinstance(reply, LLMFailure):
                return attrs.evolve(reply, usage=spent + reply.usage)
            spent += reply.usage
            checked = check_output(reply.content, self._spec.schema)
            if isinstance(checked, dict):
                return ParseSuccess(checked, spent, reply.model or self.model)
            problem = checked
            if attempt == 1:
                logger.info(
                    "LLM answer for message %s (provider: %s) refused: %s. Asking once more.",
                    request.message_ref or "-",
                    self.provider,
                    problem,
                )
                messages += [
                    {"role": "assistant", "content": reply.content or ""},
                    {"role": "user", "content": repair_message(problem)},
                ]
        failure = LLMFailure(
            FailureKind.REJECTED,
            "invalid_output",
            f"invalid output after one repair: {problem}",
            usage=spent,
        )
        log_failure(logger, failure, request.message_ref, self.provider, failure.message)
        return failure

    async def _complete(
        self, messages: list[Message], request: ParseRequest
    ) -> _Reply | LLMFailure:
        """The answer, or the classified failure (already logged; its usage is this call)."""
        try:
            raw = await self._client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
                model=self._config.model,
                messages=messages,
                response_format={"type": "json_object"},
                extra_body=self._config.request_options() or None,
            )
            body: Any = json.loads(raw.text)
        except openai.OpenAIError as exc:
            failure = failure_from_sdk_error(exc, self._now(), self._timeout)
            return self._failed(failure, sdk_error_text(exc), request)
        except Exception as exc:  # a body that is not JSON, or anything else: never raise
            failure = LLMFailure(
                FailureKind.TRANSIENT, "invalid_response", f"{type(exc).__name__}: {exc}"
            )
            return self._failed(failure, failure.message, request)
        if not _has_choices(body) and error_object(body) is not None:
            # An error object in an HTTP 200 (Z.AI's 1305 was seen so) is no completion.
            failure = classify_status(raw.status_code, body, dict(raw.headers), self._now())
            return self._failed(failure, f"Error code: {raw.status_code} - {body}", request)
        usage = _usage(body)
        if _finish_reason(body) in CONTENT_FILTERED:
            # Z.AI ends a blocked answer with finish_reason "sensitive": asking again won't help
            failure = LLMFailure(
                FailureKind.REJECTED,
                "content_filter",
                "the provider's content filter ended the answer",
            )
            return self._failed(failure, f"finish_reason {_finish_reason(body)!r}", request, usage)
        if _finish_reason(body) == "length":
            # Cut at the bound on output tokens: the same bound would cut a repair too.
            bound = self._config.max_output_tokens or "the provider's"
            failure = LLMFailure(
                FailureKind.REJECTED,
                "length",
                f"the answer was cut at the output token limit ({bound}; LLM_MAX_OUTPUT_TOKENS)",
            )
            return self._failed(failure, "finish_reason 'length'", request, usage)
        return _Reply(_content(body), usage, _model(body))

    def _failed(
        self,
        failure: LLMFailure,
        error_text: str,
        request: ParseRequest,
        usage: LLMUsage = ONE_CALL,
    ) -> LLMFailure:
        key = self._config.api_key
        safe = LLMFailure(
            failure.kind, failure.code, redact(failure.message, key), failure.retry_at, usage
        )
        log_failure(logger, safe, request.message_ref, self.provider, redact(error_text, key))
        return safe

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> OpenAICompatibleParser:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _has_choices(body: Any) -> bool:
    return (
        isinstance(body, dict) and isinstance(body.get("choices"), list) and bool(body["choices"])
    )


def _finish_reason(body: Any) -> str | None:
    try:
        reason = body["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None


def _usage(body: Any) -> LLMUsage:
    """One call and the tokens the completion's ``usage`` reports (0 where it says nothing)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return ONE_CALL

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and value >= 0 else 0

    return LLMUsage(count("prompt_tokens"), count("completion_tokens"), calls=1)


def _model(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None


def _content(body: Any) -> str | None:
    """The first choice's text; None when the reply carries none (asked for again)."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None
