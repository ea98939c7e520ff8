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
    parse_result,
    post_text,
    text_key,
    zai_error,
)
from channel_parser.simulator.state import SimulatorState

CHAT_PATHS = (
    "/chat/completions",
    "/v1/chat/completions",
    "/api/paas/v4/chat/completions",
    "/api/coding/paas/v4/chat/completions",
)
# Faults that pass the limits and answer (or hang, or drop) like a real call.
ANSWERING_FAULTS = frozenset(
    {Fault.HANG, Fault.DROP, Fault.NON_JSON, Fault.SCHEMA_BREAK, Fault.SENSITIVE}
)
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
        finish_reason = "stop"
        if fault is not None and fault.kind == Fault.SENSITIVE:
            content, finish_reason = "", "sensitive"
        elif fault is not None and fault.kind == Fault.NON_JSON:
            content = NON_JSON_ANSWER
        elif fault is not None and fault.kind == Fault.SCHEMA_BREAK:
            content = SCHEMA_BREAKING_ANSWER
        else:
            content = json.dumps(parse_result(text), ensure_ascii=False)
        prompt_chars = len(json.dumps(body.get("messages"), ensure_ascii=False))
        reply = completion(request_id, model, content, prompt_chars, finish_reason)
        self.state.charge(reply["usage"]["total_tokens"])
        if fault is None:
            self.state.answered(asyncio.get_running_loop().time())
            self.state.successes_by_text[text_key(text)] += 1
        return web.json_response(reply)

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
