"""Peak memory while three huge replies arrive at once: the parser as shipped (replies read
at most LLM_MAX_REPLY_BYTES) beside the SDK as the parser used it before issue 12 (the
whole reply read, then parsed), in the same run, each in a process of its own so that its
peak resident size is its own.

The provider is a `channel-parser simulate-zai` process whose `huge` fault answers a good
completion holding a string of --mb megabytes, chunked (no Content-Length), generated as
it is sent.

    python bench/reply_memory.py [--mb 200] [--calls 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "channel_parser.bootstrap.cli"]
KEY = "sk-bench-reply-memory"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


async def _baseline(base_url: str, calls: int) -> list[str]:
    """The SDK as the parser called it before: the whole body read, then parsed twice."""
    import openai

    client = openai.AsyncOpenAI(api_key=KEY, base_url=base_url, timeout=600, max_retries=0)

    async def one(i: int) -> str:
        raw = await client.chat.completions.with_raw_response.create(
            model="glm-4.6",
            messages=[{"role": "user", "content": f"<post>\nHUGE {i}\n</post>"}],
            response_format={"type": "json_object"},
        )
        body = json.loads(raw.text)
        content = json.loads(body["choices"][0]["message"]["content"])
        return f"read {len(content['summary'])} characters"

    try:
        return list(await asyncio.gather(*(one(i) for i in range(calls))))
    finally:
        await client.close()


async def _bounded(base_url: str, calls: int) -> list[str]:
    from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
    from channel_parser.adapters.llm.prompting import load_prompt_spec
    from channel_parser.adapters.llm.providers import resolve_provider
    from channel_parser.application.ports.llm import ParseRequest

    provider = resolve_provider("zai", base_url, None, KEY)
    async with OpenAICompatibleParser(provider, load_prompt_spec(None, None), timeout=600) as p:
        outcomes = await asyncio.gather(
            *(p.parse(ParseRequest(f"HUGE {i}", f"bench/{i}")) for i in range(calls))
        )
    return [f"{getattr(o, 'kind', 'ok')} ({getattr(o, 'code', '')})" for o in outcomes]


def client(kind: str, base_url: str, calls: int) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    started = time.perf_counter()
    run = _baseline if kind == "baseline" else _bounded
    outcomes = asyncio.run(run(base_url, calls))
    seconds = time.perf_counter() - started
    print(
        json.dumps({"kind": kind, "peak_mb": _peak_mb(), "seconds": seconds, "outcomes": outcomes})
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(megabytes: int, calls: int) -> dict[str, Any]:
    port = _free_port()
    sim = subprocess.Popen(
        [
            *CLI,
            "simulate-zai",
            "--port",
            str(port),
            "--huge-bytes",
            str(megabytes * 1_000_000),
            "--trigger",
            "HUGE=huge",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None and "listening" in sim.stdout.readline()
        base_url = f"http://127.0.0.1:{port}/api/paas/v4"
        results = {}
        for kind in ("baseline", "bounded"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--client",
                    kind,
                    "--url",
                    base_url,
                    "--calls",
                    str(calls),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            )
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=30)
    return {
        "megabytes_per_reply": megabytes,
        "replies_at_once": calls,
        **results,
        "ratio": results["bounded"]["peak_mb"] / results["baseline"]["peak_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--client", choices=["baseline", "bounded"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client, args.url, args.calls)
        return
    result = measure(args.mb, args.calls)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.calls} replies of {args.mb} MB at once, peak resident memory of the client:")
    for kind in ("baseline", "bounded"):
        r = result[kind]
        print(f"  {kind:9} {r['peak_mb']:8.0f} MB  {r['seconds']:6.1f} s  {r['outcomes'][0]}")
    print(f"  bounded / baseline: {result['ratio']:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
