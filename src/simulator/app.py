"""The simulator's HTTP app: ``POST /chat/completions`` as Z.AI answers it, plus admin routes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from typing import Any

from aiohttp import web

from channel_parser.simulator.config import ZAI_MESSAGES, Fault, FaultSpec, zai_status
from channel_parser.simulator.replies import (
    NON_JSON_ANSWER,
    SCHEMA_BREAKING_ANSWER,
    completion,
    post_text,
    text_key,
    thinking_tokens,
    zai_error,
)
from channel_parser.simulator.schema_answers import answer
from channel_parser.simulator.state import SimulatorState

CHAT_PATHS = (
    "/chat/completions",
    "/v1/chat/completions",
    "/api/paas/v4/chat/completions",
    "/api/coding/paas/v4/chat/completions",
)
# Faults that pass the limits and answer (or hang, or drop) like a real call.
ANSWERING_FAULTS = frozenset(
    {
        Fault.HANG,
        Fault.DROP,
        Fault.NON_JSON,
        Fault.SCHEMA_BREAK,
        Fault.SENSITIVE,
        Fault.DEEP,
        Fault.DRIP,
        Fault.HUGE,
        Fault.NO_CHOICES,
    }
)
HUGE_CHUNK = 1 << 20
STATE = web.AppKey("state", SimulatorState)
CLOSING = web.AppKey("closing", asyncio.Event)


class ChatHandler:
    def __init__(self, state: SimulatorState, closing: asyncio.Event) -> None:
        self.state = state
        self.closing = closing
        self.rng = random.Random(state.config.seed)
        self.ids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        state.called(asyncio.get_running_loop().time())
        request_id = f"sim-{next(self.ids)}"
        denied = self._check_key(request.headers.get("Authorization", ""))
        if denied is not None:
            return self._error(denied, request_id)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._error("1210", request_id)
        if not isinstance(body, dict):
            return self._error("1210", request_id)
        text = post_text(body)
        state.saw_options(_thinking(body), _max_tokens(body))
        fault = state.take_fault(text)
        if fault is not None:
            state.faults[fault.kind] += 1
            if fault.kind not in ANSWERING_FAULTS:
                return self._fault_reply(fault, request_id)
        model = str(body.get("model") or "")
        if state.config.model is not None and model != state.config.model:
            return self._error("1211", request_id)
        if not state.balance_left():
            return self._error("1113", request_id)
        if not state.admit_rate(asyncio.get_running_loop().time()):
            return self._error("1303", request_id)
        if state.over_concurrency(asyncio.get_running_loop().time()):
            return self._error("1302", request_id)
        state.enter()
        try:
            return await self._answer(request, body, text, model, fault, request_id)
        finally:
            state.leave()

    def _check_key(self, header: str) -> str | None:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return "1001"
        expected = self.state.config.api_key
        return "1002" if expected is not None and key.strip() != expected else None

    async def _answer(
        self,
        request: web.Request,
        body: dict[str, Any],
        text: str,
        model: str,
        fault: FaultSpec | None,
        request_id: str,
    ) -> web.StreamResponse:
        if fault is not None and fault.kind == Fault.HANG:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), self.state.config.hang_seconds)
            return self._error("1234", request_id)
        await asyncio.sleep(self.state.config.latency.sample(self.rng))
        if fault is not None and fault.kind == Fault.DROP:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        kind = None if fault is None else fault.kind
        if kind == Fault.HUGE:
            return await self._huge(request, request_id, model)
        finish_reason = "stop"
        if kind == Fault.SENSITIVE:
            content, finish_reason = "", "sensitive"
        elif kind == Fault.NON_JSON:
            content = NON_JSON_ANSWER
        elif kind == Fault.SCHEMA_BREAK:
            content = SCHEMA_BREAKING_ANSWER
        elif kind == Fault.DEEP:
            levels = self.state.config.deep_levels
            content = '{"a":' * levels + "1" + "}" * levels
        else:
            content = json.dumps(answer(body, text), ensure_ascii=False)
        prompt_chars = len(json.dumps(body.get("messages"), ensure_ascii=False))
        # A scripted answer is served whole, whatever bound was asked (a provider that
        # ignores it): the client's own guards must meet it.
        limit = "" if kind == Fault.DEEP else _max_tokens(body)
        reply = completion(
            request_id,
            model,
            content,
            prompt_chars,
            finish_reason,
            reasoning_tokens=thinking_tokens(text, _thinking(body)),
            max_tokens=int(limit) if limit.isdigit() else None,
        )
        if kind == Fault.NO_CHOICES:
            reply["choices"] = []
        self.state.charge(reply["usage"]["total_tokens"])
        if fault is None:
            self.state.answered(asyncio.get_running_loop().time())
            self.state.successes_by_text[text_key(text)] += 1
        if kind == Fault.DRIP:
            return await self._drip(request, json.dumps(reply).encode())
        return web.json_response(reply)

    async def _drip(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """The reply one byte at a time: every read is quick, the whole is not."""
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client gave up: fine
            for i in range(len(body)):
                if self.closing.is_set():
                    break
                await response.write(body[i : i + 1])
                await asyncio.sleep(self.state.config.drip_seconds)
        return response

    async def _huge(self, request: web.Request, request_id: str, model: str) -> web.StreamResponse:
        """A good completion whose answer holds a string of huge_bytes bytes, generated
        as it is sent (the simulator never holds it)."""
        size = self.state.config.huge_bytes
        head, tail = json.dumps(completion(request_id, model, "\x00", 1)).split("\\u0000")
        head += '{\\"summary\\": \\"'
        tail = '\\"}' + tail
        # Chunked, no Content-Length (as streaming servers send): only reading tells its size.
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"x" * HUGE_CHUNK
        with contextlib.suppress(ConnectionResetError):  # the client stopped reading: fine
            await response.write(head.encode())
            left = size
            while left > 0 and not self.closing.is_set():
                await response.write(chunk[: min(left, HUGE_CHUNK)])
                left -= HUGE_CHUNK
            await response.write(tail.encode())
        return response

    def _fault_reply(self, fault: FaultSpec, request_id: str) -> web.Response:
        if fault.kind in (Fault.HTTP_500, Fault.HTTP_503):
            status = int(fault.kind)
            self.state.rejections[str(status)] += 1
            return web.json_response(
                {"error": {"code": str(status), "message": fault.message or "Internal error"}},
                status=status,
                headers=fault.headers,
            )
        if fault.kind == Fault.ERROR_IN_200:
            self.state.rejections["1305"] += 1
            message = fault.message or ZAI_MESSAGES["1305"]
            return web.json_response(
                zai_error("1305", message, request_id), status=200, headers=fault.headers
            )
        return self._error(fault.kind, request_id, fault.message, fault.headers)

    def _error(
        self,
        code: str,
        request_id: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.state.rejections[code] += 1
        text = message or ZAI_MESSAGES.get(code, f"Z.AI error {code}")
        return web.json_response(
            zai_error(code, text, request_id), status=zai_status(code), headers=headers
        )


def _thinking(body: dict[str, Any]) -> str:
    """The request's ``thinking.type`` ("absent" when not sent: GLM then decides)."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    return str(kind) if kind is not None else "absent"


def _max_tokens(body: dict[str, Any]) -> str:
    """The bound on output tokens as sent (Z.AI's ``max_tokens``; OpenAI's name too)."""
    value = body.get("max_tokens", body.get("max_completion_tokens"))
    return str(value) if value is not None else "absent"


async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats().as_dict())


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset_stats()
    return web.json_response({"ok": True})


async def top_up(request: web.Request) -> web.Response:
    body = await _json(request)
    amount = body.get("amount", 0)
    if not isinstance(amount, int) or amount < 0:
        return web.json_response({"error": "amount: a non-negative integer"}, status=400)
    return web.json_response({"balance": request.app[STATE].top_up(amount)})


async def faults(request: web.Request) -> web.Response:
    """``{"clear": true, "queue": ["500", {"kind": "1303", "headers": {...}}],
    "triggers": {"needle": "1301"}}``"""
    body = await _json(request)
    state = request.app[STATE]
    try:
        queue = [FaultSpec.of(f) for f in body.get("queue") or []]
        triggers = {str(k): FaultSpec.of(v) for k, v in (body.get("triggers") or {}).items()}
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    if body.get("clear"):
        state.clear_faults()
    state.script(queue)
    for needle, fault in triggers.items():
        state.trigger(needle, fault)
    return web.json_response({"ok": True, "queued": len(queue), "triggers": len(triggers)})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def build_app(state: SimulatorState, closing: asyncio.Event) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app[CLOSING] = closing
    handler = ChatHandler(state, closing)
    for path in CHAT_PATHS:
        app.router.add_post(path, handler.handle)
    app.router.add_get("/admin/stats", stats)
    app.router.add_post("/admin/reset", reset)
    app.router.add_post("/admin/topup", top_up)
    app.router.add_post("/admin/faults", faults)
    return app
