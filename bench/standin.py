"""An independent Z.AI stand-in for black-box runs of channel-parser.

Written from the provider facts in the project's reference notes (Z.AI's
OpenAI-compatible chat completions; a refusal for concurrency is HTTP 429 with the body
``{"error": {"code": "1302", "message": ...}}``, the code a string, no ``type``); it
imports nothing of channel_parser, so the project's own simulator is not what judges it.

- A hidden concurrency limit: a call that arrives while that many are being answered is
  refused at once with 1302. The limit may move: ``--limit-schedule 8,4@15,12@30`` is 8
  from the first call, 4 from 15 s, 12 from 30 s.
- Latency: lognormal with the given mean and the spread (sigma) of its logarithm, seeded.
- Answers: a JSON object fitting channel-parser's shipped post schema.
- ``GET /stats``: calls, refusals, the peak of calls answered at once, successes, how many
  distinct posts were answered and the most times one was, and the seconds from the first
  call to the last good answer. ``POST /reset`` zeroes them and restarts the schedule.

    python bench/standin.py --port 8089 --limit-schedule 8 --latency-ms 200 --latency-sigma 0.25
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import time
from collections import Counter
from typing import Any

from aiohttp import web

REFUSAL = {
    "error": {
        "code": "1302",
        "message": "High concurrency usage of this API, please reduce concurrency or contact "
        "customer service to increase limits",
    }
}


class Schedule:
    def __init__(self, text: str) -> None:
        first, *rest = text.split(",")
        self.first = int(first)
        self.changes = sorted((float(at), int(limit)) for limit, at in (p.split("@") for p in rest))

    def at(self, seconds: float) -> int:
        limit = self.first
        for since, value in self.changes:
            if seconds >= since:
                limit = value
        return limit


class StandIn:
    def __init__(self, schedule: Schedule, mean_ms: float, sigma: float, seed: int) -> None:
        self.schedule = schedule
        self.mu = math.log(mean_ms / 1000) - sigma * sigma / 2
        self.sigma = sigma
        self.rng = random.Random(seed)
        self.reset()

    def reset(self) -> None:
        self.started: float | None = None
        self.last_success: float | None = None
        self.calls = self.refused = self.successes = self.in_flight = self.peak = 0
        self.answered: Counter[str] = Counter()

    async def chat(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        self.calls += 1
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"code": "1001", "message": "no key"}}, status=401)
        body = await request.json()
        limit = self.schedule.at(now - self.started)
        if self.in_flight >= limit:
            self.refused += 1
            return web.json_response({**REFUSAL, "request_id": f"standin-{self.calls}"}, status=429)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.rng.lognormvariate(self.mu, self.sigma))
        finally:
            self.in_flight -= 1
        user = next(
            (m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"),
            "",
        )
        self.answered[hashlib.sha1(str(user).encode()).hexdigest()] += 1
        self.successes += 1
        self.last_success = time.monotonic()
        answer = {
            "summary": (str(user).split("<post>")[-1].strip() or "post")[:200],
            "language": "ru",
            "topics": [],
            "entities": [],
            "links": [],
            "is_advertisement": False,
            "sentiment": "neutral",
        }
        return web.json_response(
            {
                "id": f"standin-{self.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "glm-4.6"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        window = None
        if self.started is not None and self.last_success is not None:
            window = self.last_success - self.started
        report: dict[str, Any] = {
            "calls": self.calls,
            "refused_1302": self.refused,
            "successes": self.successes,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak,
            "posts_answered": len(self.answered),
            "most_answers_for_one_post": max(self.answered.values(), default=0),
            "first_call_to_last_success": window,
        }
        return web.json_response(report)

    async def reset_route(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--limit-schedule", default="8")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--latency-sigma", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    standin = StandIn(Schedule(args.limit_schedule), args.latency_ms, args.latency_sigma, args.seed)
    app = web.Application()
    for path in ("/api/paas/v4/chat/completions", "/chat/completions"):
        app.router.add_post(path, standin.chat)
    app.router.add_get("/stats", standin.stats)
    app.router.add_post("/reset", standin.reset_route)
    print(f"stand-in listening on 127.0.0.1:{args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
