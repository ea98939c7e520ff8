"""Throughput under a provider with a hidden concurrency limit, adaptive vs SPEC-only.

Against the Z.AI simulator (hidden concurrency limit L, mean latency d; the limit may move
on a schedule and the latency may be lognormal), a backlog of distinct posts on one fresh
SQLite file is parsed through the real openai SDK over HTTP, by --procs worker processes
that share the file:

- adaptive: the engine as shipped (the shared limiter learns L from the 1302s);
- baseline: what SPEC.md alone asks for: a fixed pool of 32 concurrent calls in each
  process, and the exponential backoff on every 1302.

A third run, "bare client", is one process of tasks calling the provider in a loop with
the same SDK and no store, as many as the hidden limit allows at each moment (it is told
the schedule): what this machine can do at best, printed for reference.

SPEC.md's backoff (30 s base, 480 s cap) is divided by --scale for the engine runs so
that a run takes a minute, not hours. Each run is measured by the simulator from its first
call to its last good answer; the ideal is the hidden limit integrated over that window,
divided by the mean latency. Printed: throughput as a share of the ideal, the share of
calls refused with 1302, the peak of calls the provider carried at once, and whether every
post was answered exactly once.

    python bench/throughput.py [--posts 2000] [--limit 8 | --limit-schedule 8,4@15,12@30]
        [--latency-ms 200] [--latency-sigma 0.25] [--procs 3] [--runs bare,adaptive,baseline]
        [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from dependency_injector import providers
from pydantic import SecretStr

from channel_parser.adapters.llm.openai_compatible import OpenAICompatibleParser
from channel_parser.adapters.llm.prompting import load_prompt_spec
from channel_parser.adapters.llm.providers import resolve_provider
from channel_parser.application.ports.llm import ParseRequest
from channel_parser.application.ports.notify import DeliveryResult, NotificationSender
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from channel_parser.bootstrap.settings import Settings
from channel_parser.bootstrap.storage import open_storage
from channel_parser.domain.concurrency import ConcurrencyLimit
from channel_parser.domain.status import MessageStatus
from channel_parser.simulator.config import LimitSchedule
from channel_parser.simulator.server import API_PATH

CHANNEL = -1003333333333
BASELINE_POOL = 32
RUNS = ("bare", "adaptive", "baseline")


def post_text(i: int) -> str:
    return f"Пост {i}: объявление о работе номер {i}"


class QuietNotifier:
    """A NotificationSender with no admins: nothing is queued (not the subject here)."""

    @property
    def destinations(self) -> Sequence[str]:
        return ()

    async def deliver(self, destination: str, payload: Mapping[str, Any]) -> DeliveryResult:
        raise AssertionError("nothing is queued for no destinations")

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _CountErrors(logging.Handler):
    """Counts the engine's ERROR records (an internal error, a bug): a run with any of
    them measures a broken engine, and the benchmark says so instead of a figure."""

    def __init__(self, count: Any) -> None:
        super().__init__(logging.ERROR)
        self.count = count

    def emit(self, record: logging.LogRecord) -> None:
        with self.count.get_lock():
            self.count.value += 1


def _settings(workdir: Path, base_url: str, scale: float) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        sqlite_path=workdir / "bench.sqlite3",
        llm_provider="zai",
        llm_base_url=base_url,
        llm_api_key=SecretStr("bench-key"),
        backoff_base_seconds=30 / scale,
        backoff_cap_seconds=480 / scale,
        poll_seconds=0.05,
        concurrency_start=4,
        concurrency_max=BASELINE_POOL,
        metrics_port=0,
    )


class Simulator:
    """`channel-parser simulate-zai` in a process of its own."""

    def __init__(
        self,
        limit: int,
        latency_ms: float,
        *,
        sigma: float = 0.0,
        schedule: str | None = None,
        seed: int = 0,
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = self.root + API_PATH
        command = [
            sys.executable,
            "-m",
            "channel_parser.bootstrap.cli",
            "simulate-zai",
            "--port",
            str(self.port),
            "--concurrency-limit",
            str(limit),
            "--latency-ms",
            str(latency_ms),
            "--latency-sigma",
            str(sigma),
            "--seed",
            str(seed),
        ]
        if schedule is not None:
            command += ["--limit-schedule", schedule]
        self._proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._proc.stdout is not None
        if "listening" not in self._proc.stdout.readline():
            raise RuntimeError("the simulator did not start")
        # Whatever it prints later is read and dropped: a full pipe would block it.
        threading.Thread(target=self._proc.stdout.read, daemon=True).start()

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def close(self) -> None:
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _report(
    mode: str, posts: int, seen: dict[str, Any], schedule: LimitSchedule, latency_s: float
) -> dict[str, Any]:
    window = seen["first_to_last_success"] or float("nan")
    ideal_posts = schedule.limit_seconds(0.0, window) / latency_s
    refused = seen["rejections"].get("1302", 0)
    by_text = seen["successes_by_text"]
    answered = seen["successes"]  # the bare client does not retry what was refused
    return {
        "mode": mode,
        "posts": posts,
        "answered": answered,
        "seconds": round(window, 2),
        "posts_per_second": round(answered / window, 2),
        "ideal_posts_per_second": round(ideal_posts / window, 2),
        "share_of_ideal": round(answered / ideal_posts, 3),
        "calls": seen["total_calls"],
        "refused_1302": refused,
        "refused_share": round(refused / max(seen["total_calls"], 1), 4),
        "peak_in_flight": seen["peak_in_flight"],
        "answered_once": len(by_text) == posts and set(by_text.values()) == {1},
    }


async def run_bare(sim: Simulator, posts: int, schedule: LimitSchedule) -> dict[str, Any]:
    """As many tasks as the hidden limit allows now, calling in a loop, nothing stored."""
    spec = load_prompt_spec(None, None)
    parser = OpenAICompatibleParser(resolve_provider("zai", sim.base_url, None, "k"), spec)
    texts = iter(range(posts))
    sim.admin("/admin/reset", {})
    started: list[float] = []

    async def loop(slot: int) -> None:
        for i in texts:
            while True:  # the oracle: this task calls only while the limit admits it
                now = time.monotonic()
                elapsed = now - started[0] if started else 0.0
                if slot < schedule.limit_at(elapsed):
                    break
                await asyncio.sleep(0.005)
            if not started:
                started.append(now)
            await parser.parse(ParseRequest(post_text(i)))

    top = max([schedule.first, *(limit for _, limit in schedule.changes)])
    async with parser:
        await asyncio.gather(*(loop(slot) for slot in range(top)))
    return sim.admin("/admin/stats")  # type: ignore[no-any-return]


def _engine_process(
    mode: str,
    workdir: str,
    base_url: str,
    scale: float,
    stop: Event,
    ready: Event,
    errors: Any,
) -> None:
    """One worker process: the engine from the container on the shared SQLite file, until
    *stop* is set (baseline: a fixed pool of 32, the limit never learned)."""
    logging.disable(logging.WARNING)  # 1302s are logged as warnings: not the subject here
    logging.getLogger("channel_parser").addHandler(_CountErrors(errors))

    async def main() -> None:
        container = Container(settings=_settings(Path(workdir), base_url, scale))
        quiet: NotificationSender = QuietNotifier()  # mypy checks it against the port
        container.notifier.override(providers.Object(quiet))
        if mode == "baseline":
            fixed = ConcurrencyLimit(
                limit=BASELINE_POOL, min_limit=BASELINE_POOL, max_limit=BASELINE_POOL
            )
            container.limit.override(providers.Object(fixed))
            container.adaptive.override(providers.Object(False))
        try:
            engine = await container.engine.async_()
            ready.set()
            worker = asyncio.create_task(engine.run())
            await asyncio.to_thread(stop.wait)
            engine.stop()
            await worker
        finally:
            await shutdown(container)

    asyncio.run(main())


async def _store(workdir: Path, base_url: str, scale: float, posts: int) -> None:
    async with open_storage(_settings(workdir, base_url, scale)) as stores:
        for i in range(posts):  # distinct texts: no cache hits
            await stores.messages.add(NewPost(CHANNEL, i, post_text(i)), datetime.now(UTC))


async def _done(workdir: Path, base_url: str, scale: float) -> int:
    async with open_storage(_settings(workdir, base_url, scale)) as stores:
        return (await stores.messages.stats()).by_status.get(MessageStatus.DONE, 0)


def run_engines(
    mode: str, sim: Simulator, posts: int, scale: float, procs: int, deadline: float
) -> dict[str, Any]:
    """*procs* worker processes on one fresh SQLite file until every post is answered."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix=f"bench-{mode}-") as tmp:
        workdir = Path(tmp)
        asyncio.run(_store(workdir, sim.base_url, scale, posts))
        sim.admin("/admin/reset", {})
        stop, readies = context.Event(), [context.Event() for _ in range(procs)]
        errors = context.Value("i", 0)
        workers = [
            context.Process(
                target=_engine_process,
                args=(mode, tmp, sim.base_url, scale, stop, ready, errors),
                daemon=True,
            )
            for ready in readies
        ]
        for worker in workers:
            worker.start()
        try:
            ends = time.monotonic() + deadline
            while sim.admin("/admin/stats")["successes"] < posts:
                if time.monotonic() > ends:
                    raise RuntimeError(f"{mode}: not done within {deadline:.0f} s")
                if not all(w.is_alive() for w in workers):
                    raise RuntimeError(f"{mode}: a worker process died")
                time.sleep(1.0)  # the window is measured by the simulator, not here
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
                if worker.is_alive():
                    worker.kill()
        if errors.value:
            raise RuntimeError(
                f"{mode}: the engine logged {errors.value} error(s) (run with the logging "
                "enabled to see them): no figure for a broken engine"
            )
        seen = sim.admin("/admin/stats")
        done = asyncio.run(_done(workdir, sim.base_url, scale))
    seen["done_in_store"] = done
    return seen  # type: ignore[no-any-return]


def main(args: argparse.Namespace) -> dict[str, Any]:
    schedule = (
        LimitSchedule.parse(args.limit_schedule)
        if args.limit_schedule
        else LimitSchedule(args.limit)
    )
    latency_s = args.latency_ms / 1000
    logging.disable(logging.WARNING)  # 1302s are logged as warnings: not the subject here
    sim = Simulator(
        schedule.first,
        args.latency_ms,
        sigma=args.latency_sigma,
        schedule=args.limit_schedule,
        seed=args.seed,
    )
    results: dict[str, Any] = {}
    try:
        for run in args.runs:
            if run == "bare":
                seen = asyncio.run(run_bare(sim, args.posts, schedule))
            else:
                seen = run_engines(run, sim, args.posts, args.scale, args.procs, args.deadline)
            results[run] = _report(run, args.posts, seen, schedule, latency_s)
            if "done_in_store" in seen:
                results[run]["done_in_store"] = seen["done_in_store"]
    finally:
        sim.close()
    document: dict[str, Any] = {
        "provider": {
            "hidden_concurrency_limit": args.limit_schedule or args.limit,
            "latency_ms": args.latency_ms,
            "latency": (
                f"lognormal, sigma {args.latency_sigma:g}" if args.latency_sigma else "fixed"
            ),
        },
        "worker_processes": args.procs,
        "backoff_scale": f"SPEC's 30 s base and 480 s cap divided by {args.scale:g}",
        "runs": results,
    }
    if "adaptive" in results and "baseline" in results:
        document["adaptive_vs_baseline_throughput"] = round(
            results["adaptive"]["posts_per_second"] / results["baseline"]["posts_per_second"], 2
        )
    return document


def _print(result: dict[str, Any]) -> None:
    provider = result["provider"]
    print(
        f"provider: hidden limit {provider['hidden_concurrency_limit']}, latency "
        f"{provider['latency_ms']:g} ms mean ({provider['latency']}); "
        f"{result['worker_processes']} worker process(es); backoff: {result['backoff_scale']}"
    )
    print(
        f"{'run':<12}{'posts/s':>9}{'ideal/s':>9}{'of ideal':>10}{'refused':>9}"
        f"{'calls':>7}{'peak':>6}{'once':>6}"
    )
    for key, r in result["runs"].items():
        print(
            f"{key:<12}{r['posts_per_second']:>9.1f}{r['ideal_posts_per_second']:>9.1f}"
            f"{r['share_of_ideal']:>10.1%}{r['refused_share']:>9.2%}{r['calls']:>7}"
            f"{r['peak_in_flight']:>6}{'yes' if r['answered_once'] else 'NO':>6}"
        )
    if "adaptive_vs_baseline_throughput" in result:
        print(f"adaptive / baseline throughput: {result['adaptive_vs_baseline_throughput']:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument(
        "--limit-schedule", help="a moving hidden limit, e.g. 8,4@15,12@30 (wins over --limit)"
    )
    parser.add_argument("--latency-ms", type=float, default=200.0, help="mean latency")
    parser.add_argument(
        "--latency-sigma", type=float, default=0.0, help="lognormal spread (0: fixed latency)"
    )
    parser.add_argument("--procs", type=int, default=1, help="worker processes sharing the store")
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0, help="the simulator's latency seed")
    parser.add_argument(
        "--runs",
        type=lambda text: [run for run in text.split(",") if run],
        default=list(RUNS),
        help="which runs, in order (default: bare,adaptive,baseline)",
    )
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per engine run")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    arguments = parser.parse_args()
    if unknown := set(arguments.runs) - set(RUNS):
        parser.error(f"--runs: unknown {sorted(unknown)}; choose from {', '.join(RUNS)}")
    outcome = main(arguments)
    if arguments.json:
        json.dump(outcome, sys.stdout, indent=2)
        print()
    else:
        _print(outcome)
