"""``OpenAICompatibleParser``: the ``LLMParser`` port on the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import attrs
import openai

from channel_parser.adapters.llm.bounds import (
    MAX_REPLY_DEPTH,
    LimitedTransport,
    ReplyTooLarge,
    ReplyUndecodable,
    nests_deeper_than,
)
from channel_parser.adapters.llm.classifier import classify_status, error_object, timeout_failure
from channel_parser.adapters.llm.logs import log_failure
from channel_parser.adapters.llm.profiles import (
    LoadedProfiles,
    default_source,
    load_profiles,
    single_profile,
)
from channel_parser.adapters.llm.prompting import (
    PromptSpec,
    check_output,
    repair_message,
    user_message,
)
from channel_parser.adapters.llm.providers import ProviderConfig, resolve_provider
from channel_parser.adapters.llm.redact import redact
from channel_parser.adapters.llm.sdk_errors import failure_from_sdk_error, sdk_error_text
from channel_parser.application.ports.llm import (
    ParseOutcome,
    ParseRequest,
    ParserProfile,
    ParseSuccess,
)
from channel_parser.application.profiles import ProfileTable
from channel_parser.domain.failures import FailureKind, LLMFailure
from channel_parser.domain.usage import NO_USAGE, LLMUsage

logger = logging.getLogger(__name__)

Message = dict[str, str]
CONTENT_FILTERED = frozenset({"sensitive", "content_filter"})
DEFAULT_MAX_REPLY_BYTES = 1_048_576
DEFAULT_MAX_RESULT_BYTES = 262_144
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
    """Parses a post with one chat completion (two when the first answer must be repaired).

    Each completion call has *timeout* seconds from the request to the reply's last byte
    (not per read: a provider dripping bytes cannot stretch it); a reply is read at most
    *max_reply_bytes* far, and a result larger than *max_result_bytes* (as JSON) is refused.
    """

    def __init__(
        self,
        config: ProviderConfig,
        spec: PromptSpec | LoadedProfiles,
        *,
        timeout: float = 60.0,
        max_post_chars: int = 20_000,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._config = config
        # One prompt and schema for every channel, or a profile per channel (config file)
        self._profiles = (
            spec if isinstance(spec, LoadedProfiles) else single_profile(spec, config.model)
        )
        if self._profiles.model != config.model:
            raise ValueError("the profiles were loaded for another model")
        self._timeout = timeout
        self._max_post_chars = max_post_chars
        self._max_result_bytes = max_result_bytes
        self._now = now
        # We own retries (backoff per message, SPEC.md): the SDK's own are off.
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=timeout,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(
                transport=LimitedTransport(max_reply_bytes), timeout=timeout
            ),
        )

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        now: Callable[[], datetime] = _utc_now,
        profiles: LoadedProfiles | None = None,
    ) -> OpenAICompatibleParser:
        """Build from ``bootstrap.settings.Settings`` (duck-typed: adapters do not import it),
        with *profiles* (None: the settings' prompt and schema for every channel)."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        config = resolve_provider(
            settings.llm_provider,
            settings.llm_base_url,
            settings.llm_model,
            key,
            thinking=getattr(settings, "llm_thinking", None),
            max_output_tokens=getattr(settings, "llm_max_output_tokens", 0),
        )
        if profiles is None:
            profiles = load_profiles(config.model, default_source(settings))
        return cls(
            config,
            profiles,
            timeout=settings.llm_timeout,
            max_post_chars=settings.llm_max_post_chars,
            max_reply_bytes=settings.llm_max_reply_bytes,
            max_result_bytes=settings.llm_max_result_bytes,
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
        return self._profiles.table.default.fingerprint

    @property
    def profiles(self) -> ProfileTable:
        return self._profiles.table

    def profile_for(self, channel_id: int | None, username: str | None = None) -> ParserProfile:
        return self._profiles.table.for_channel(channel_id, username)

    def _spec_for(self, request: ParseRequest) -> PromptSpec:
        profile = self.profile_for(request.channel_id, request.context.channel_username)
        return self._profiles.specs[profile.name]

    @property
    def settings_fingerprint(self) -> str:
        """The provider, base URL, model and a hash of the key (never the key itself)."""
        key = hashlib.sha256((self._config.api_key or "").encode()).hexdigest()
        parts = [self._config.name, self._config.base_url, self._config.model, key]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    async def parse(self, request: ParseRequest) -> ParseOutcome:
        spec = self._spec_for(request)
        post = user_message(request.text, self._max_post_chars, request.context)
        messages: list[Message] = [
            {"role": "system", "content": spec.system_message},
            {"role": "user", "content": post},
        ]
        problem = ""
        spent = NO_USAGE  # every call of this parse, the repair's too
        for attempt in (1, 2):
            reply = await self._complete(messages, request)
            if isinstance(reply, LLMFailure):
                return attrs.evolve(reply, usage=spent + reply.usage)
            spent += reply.usage
            checked = check_output(reply.content, spec.schema, spec.validator)
            if isinstance(checked, dict):
                return self._bounded(checked, request, spent, reply.model or self.model)
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

    def _bounded(
        self, result: dict[str, Any], request: ParseRequest, usage: LLMUsage, model: str
    ) -> ParseOutcome:
        """The result, unless it is too large to store (asking again would cost as much)."""
        size = len(json.dumps(result, ensure_ascii=False).encode())
        if size <= self._max_result_bytes:
            return ParseSuccess(result, usage, model)
        failure = LLMFailure(
            FailureKind.REJECTED,
            "result_too_large",
            f"the result is {size} bytes as JSON, more than {self._max_result_bytes} "
            "(LLM_MAX_RESULT_BYTES)",
        )
        return self._failed(failure, failure.message, request, usage)

    async def _complete(
        self, messages: list[Message], request: ParseRequest
    ) -> _Reply | LLMFailure:
        """The answer, or the classified failure (already logged; its usage is this call)."""
        try:
            # The deadline of the whole call, the reply's last byte included.
            async with asyncio.timeout(self._timeout):
                raw = await self._client.chat.completions.with_raw_response.create(  # type: ignore[call-overload]
                    model=self._config.model,
                    messages=messages,
                    response_format={"type": "json_object"},
                    extra_body=self._config.request_options() or None,
                )
                text = raw.text
            if nests_deeper_than(text, MAX_REPLY_DEPTH):
                raise ValueError(f"the reply's JSON nests deeper than {MAX_REPLY_DEPTH} levels")
            body: Any = json.loads(text)
        except TimeoutError:
            failure = timeout_failure(self._timeout)
            return self._failed(failure, failure.message, request)
        except Exception as exc:  # the SDK's errors, a body that is not JSON: never raise
            failure = self._classify_error(exc)
            return self._failed(failure, _error_text(exc), request)
        if not _has_choices(body):
            if error_object(body) is not None:
                # An error object in an HTTP 200 (Z.AI's 1305 was seen so) is no completion.
                failure = classify_status(raw.status_code, body, dict(raw.headers), self._now())
                return self._failed(failure, f"Error code: {raw.status_code} - {body}", request)
            # No answer at all ({"choices": []}): the provider's fault, not the post's.
            failure = LLMFailure(FailureKind.TRANSIENT, "no_choices", "the reply holds no choices")
            return self._failed(failure, f"Error code: {raw.status_code} - {body}"[:500], request)
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

    def _classify_error(self, exc: Exception) -> LLMFailure:
        too_large = _cause_of(exc, ReplyTooLarge)
        if too_large is not None:
            return LLMFailure(FailureKind.REJECTED, "reply_too_large", str(too_large))
        if isinstance(exc, openai.OpenAIError):
            return failure_from_sdk_error(exc, self._now(), self._timeout)
        undecodable = _cause_of(exc, ReplyUndecodable)
        shown = undecodable or exc
        return LLMFailure(
            FailureKind.TRANSIENT, "invalid_response", f"{type(shown).__name__}: {shown}"[:500]
        )

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


def _cause_of(exc: BaseException, kind: type[Exception]) -> BaseException | None:
    """*exc* or the first of its causes that is a *kind* (the SDK may wrap it)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _error_text(exc: Exception) -> str:
    if isinstance(exc, openai.OpenAIError):
        return sdk_error_text(exc)
    return f"{type(exc).__name__}: {exc}"


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
