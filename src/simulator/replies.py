"""What the simulator answers: good completions derived from the text, and error bodies."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from channel_parser.adapters.llm.prompting import POST_CLOSE, POST_OPEN

_URL = re.compile(r"https?://\S+")
_HASHTAG = re.compile(r"#(\w+)")
_WORD = re.compile(r"[^\W\d_]{5,}")
_CAPITALISED = re.compile(r"\b[A-ZА-ЯЁ][\w-]{2,}")
_AD_MARKERS = ("#реклама", "#ad", "#promo", "#sponsored", "erid")


def text_key(text: str) -> str:
    """The key the simulator counts a post's successes under."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def post_text(body: dict[str, Any]) -> str:
    """The post in a request: inside <post> tags of the first user message, or all of it."""
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            start, end = text.find(POST_OPEN), text.rfind(POST_CLOSE)
            if start != -1 and end > start:
                return text[start + len(POST_OPEN) : end].strip("\n")
            return text
    return ""


def parse_result(text: str) -> dict[str, Any]:
    """A result valid for the default post schema, the same for the same text."""
    stripped = " ".join(text.split())
    first = re.split(r"(?<=[.!?])\s", stripped, maxsplit=1)[0] if stripped else ""
    cyrillic = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch in "ёЁ")
    latin = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    words = [w.lower() for w in _WORD.findall(text)]
    topics = list(dict.fromkeys(h.lower() for h in _HASHTAG.findall(text)))[:5]
    if not topics:
        topics = list(dict.fromkeys(words))[:3]
    names = list(dict.fromkeys(_CAPITALISED.findall(stripped)))[1:6]
    lower = text.lower()
    return {
        "summary": (first or "(empty post)")[:200],
        "language": "ru" if cyrillic > latin else "en",
        "topics": topics,
        "entities": [{"name": name, "type": "other"} for name in names],
        "links": _URL.findall(text),
        "is_advertisement": any(marker in lower for marker in _AD_MARKERS),
        "sentiment": "neutral",
    }


def thinking_tokens(text: str, thinking: str) -> int:
    """Tokens GLM spends "thinking" before it answers: none when told not to think, else
    a few hundred, the same for the same text (GLM-4.6 thinks when it is not told)."""
    if thinking == "disabled":
        return 0
    return 200 + int(text_key(text)[:4], 16) % 400


def completion(
    request_id: str,
    model: str,
    content: str,
    prompt_chars: int,
    finish_reason: str = "stop",
    *,
    reasoning_tokens: int = 0,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    """A chat completion with a ``usage`` as Z.AI reports it (about 4 characters a token;
    thinking counted in the completion tokens). Past *max_tokens* the answer is cut and
    ends with finish_reason "length"."""
    prompt_tokens = max(prompt_chars // 4, 1)
    completion_tokens = max(len(content) // 4, 1) + reasoning_tokens
    if max_tokens is not None and completion_tokens > max_tokens:
        room = max(max_tokens - reasoning_tokens, 0)
        content = content[: room * 4]
        completion_tokens = max_tokens
        finish_reason = "length"
    return {
        "id": request_id,
        "request_id": request_id,
        "object": "chat.completion",
        "created": 1769366571,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


def zai_error(code: str, message: str, request_id: str) -> dict[str, Any]:
    """Z.AI's error body: the code is a string and there is no ``type``."""
    return {"error": {"code": code, "message": message}, "request_id": request_id}


NON_JSON_ANSWER = "Sure! Here is what the post is about: it announces something. Hope this helps."
SCHEMA_BREAKING_ANSWER = json.dumps({"summary": "", "language": "english", "topics": "news"})
