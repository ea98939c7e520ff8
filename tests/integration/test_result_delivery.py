"""Results delivered (issue 17, item 3) with the real things: a webhook receiver and a Bot
API stand-in on 127.0.0.1 (aiohttp), the real stores, the real openai SDK against the Z.AI
simulator, and the CLI as a subprocess for the restart."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.container import Container
from channel_parser.bootstrap.runner import shutdown
from tests.integration.cli_support import CLI, free_port, simulator_url  # noqa: F401
from tests.integration.engine_support import KEY, service, settings_for, simulator
from tests.integration.test_outbox_delivery import TOKEN, BotAPI, bot_api, store  # noqa: F401

CHANNEL = -1001234500001
OTHER = -1001234500002
SECRET = "whsec-test-0123456789"
SAFE_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("LLM_", "TELEGRAM_", "ADMIN_", "MONGODB_", "SQLITE_", "DELIVER_"))
}


class Receiver:
    """A webhook receiver: records each POST (headers, body); can be started and stopped
    on one port (a receiver that is down refuses connections)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/results?token=t0ken"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/results", self._post)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _post(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        return web.json_response({"ok": True})

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]

    def keys(self) -> set[str]:
        return {headers["Idempotency-Key"] for headers, _ in self.posts}

    async def wait_for(self, keys: int, deadline: float) -> None:
        until = time.monotonic() + deadline
        while len(self.keys()) < keys:
            assert time.monotonic() < until, f"{len(self.keys())} of {keys} delivered"
            await asyncio.sleep(0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver(free_port())
    yield found
    await found.stop()


async def test_fifty_parsed_posts_are_fifty_posts_to_the_webhook(
    receiver: Receiver,
    store: dict[str, Any],  # noqa: F811
) -> None:
    await receiver.start()
    async with simulator(latency={"ms": 20}) as sim:
        settings = settings_for(
            sim.base_url,
            deliver_webhook_url=SecretStr(receiver.url),
            deliver_webhook_secret=SecretStr(SECRET),
            **store,
        )
        async with service(settings) as container:
            ingest = await container.ingest.async_()
            for i in range(1, 51):
                await ingest(NewPost(CHANNEL, i, f"Пост {i}: вакансия Python, удалённо"))
            engine = await container.engine.async_()
            await asyncio.wait_for(engine.run(until_idle=True), 120)
            await receiver.wait_for(50, deadline=60)
            outbox = await container.outbox.async_()
            until = time.monotonic() + 10
            while (await outbox.stats()).by_topic["result:webhook"].delivered < 50:
                assert time.monotonic() < until
                await asyncio.sleep(0.05)
    assert len(receiver.posts) == 50
    assert receiver.keys() == {f"{CHANNEL}/{i}" for i in range(1, 51)}
    for headers, body in receiver.posts:
        record = json.loads(body)
        assert headers["Idempotency-Key"] == f"{record['channel_id']}/{record['message_id']}"
        assert headers["X-Channel-Parser-Parsed-At"] == record["parsed_at"]
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Channel-Parser-Signature"] == f"sha256={expected}"
        assert record["status"] == "done" and record["result"]["summary"]
        assert record["text"].startswith(f"Пост {record['message_id']}:")
        assert record["profile"] == "default" and len(record["spec_hash"]) == 12


def cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> Any:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env={**SAFE_ENV, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_a_receiver_down_and_a_restart_lose_nothing(
    receiver: Receiver,
    simulator_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The receiver is down while the posts are parsed and `process` exits with every
    result undelivered; a new process delivers them all once the receiver is back."""
    db = tmp_path / "store.sqlite3"
    env = {
        "SQLITE_PATH": str(db),
        "LLM_BASE_URL": f"{simulator_url}/api/paas/v4",
        "LLM_API_KEY": KEY,
        "DELIVER_WEBHOOK_URL": receiver.url,
        "METRICS_PORT": "0",
        "POLL_SECONDS": "0.2",
    }
    settings = settings_for(f"{simulator_url}/api/paas/v4", db)
    container = Container(settings=settings)
    try:
        ingest = await container.ingest.async_()
        for i in range(1, 21):
            await ingest(NewPost(CHANNEL, i, f"Post {i}: a Python job, remote"))
    finally:
        await shutdown(container)

    first = await asyncio.to_thread(cli, "process", "--until-idle", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    status = await asyncio.to_thread(cli, "status", "--json", cwd=tmp_path, env=env)
    report = json.loads(status.stdout)
    assert report["messages"]["done"] == 20
    waiting = report["outbox"]["by_topic"]["result:webhook"]
    assert (waiting["pending"], waiting["delivered"]) == (20, 0)
    assert waiting["retrying"] == 1  # the head of the queue was tried; the rest wait behind it

    await receiver.start()
    second = subprocess.Popen(  # noqa: ASYNC220  # the test's own loop serves the receiver
        [*CLI, "run", "--no-listener"],
        cwd=tmp_path,
        env={**SAFE_ENV, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await receiver.wait_for(20, deadline=90)
    finally:
        second.send_signal(signal.SIGTERM)
        _, errors = await asyncio.to_thread(second.communicate, timeout=60)
    assert second.returncode == 0, errors
    assert receiver.keys() == {f"{CHANNEL}/{i}" for i in range(1, 21)}
    assert sorted(b["message_id"] for b in receiver.bodies()) == list(range(1, 21))
    status = await asyncio.to_thread(cli, "status", "--json", cwd=tmp_path, env=env)
    after = json.loads(status.stdout)["outbox"]["by_topic"]["result:webhook"]
    assert (after["pending"], after["delivered"]) == (0, 20)


JOB_REMOTE = (
    "Ищем Python-разработчика в Acme, remote. Django, PostgreSQL. Отклики до пятницы: "
    "[откликнуться](https://acme.example/jobs/{n}), вопросы @acme_hr"
)
JOB_OFFICE = "Ищем Java-разработчика в офис (office) в Берлине. Пишите @hr_berlin"
NOT_A_JOB = "С Новым годом, друзья! Спасибо, что читаете канал."


async def test_a_condition_picks_the_results_and_telegram_gets_the_template(
    receiver: Receiver,
    bot_api: tuple[BotAPI, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    await receiver.start()
    api, bot_base = bot_api
    config = tmp_path / "channel-parser.toml"
    config.write_text(
        f"""
[profiles.jobs]
channels = ["{CHANNEL}"]
schema = "job_post"

[[routes]]
name = "remote-jobs"
when = "profile == 'jobs' && result.is_job_post && result.remote == 'remote'"
webhook = "{receiver.url}"

[[routes]]
name = "digest"
when = "result.is_job_post"
telegram_chat = "@jobs_digest"
template = '''
💼 ${{result.title}}
Apply by ${{result.deadline}}: ${{result.apply_url}}
Original: $link
'''
""",
        encoding="utf-8",
    )
    monday = datetime(2026, 1, 19, 10, 0, tzinfo=UTC)
    posts = [
        (CHANNEL, 1, JOB_REMOTE.format(n=1)),
        (CHANNEL, 2, JOB_OFFICE),
        (CHANNEL, 3, NOT_A_JOB),
        (CHANNEL, 4, JOB_REMOTE.format(n=4)),
        (OTHER, 1, "Python developer wanted, remote"),  # the default profile: no is_job_post
    ]
    async with simulator(latency={"ms": 10}) as sim:
        settings = settings_for(
            sim.base_url,
            tmp_path / "store.sqlite3",
            config_file=config,
            admin_bot_token=SecretStr(TOKEN),
            admin_bot_api_base=bot_base,
        )
        async with service(settings) as container:
            channels = await container.channels.async_()
            await channels.set_availability(CHANNEL, True, monday, title="Jobs", username="py_jobs")
            ingest = await container.ingest.async_()
            for channel, message, text in posts:
                await ingest(NewPost(channel, message, text, posted_at=monday))
            engine = await container.engine.async_()
            await asyncio.wait_for(engine.run(until_idle=True), 60)
            await receiver.wait_for(2, deadline=30)
            until = time.monotonic() + 30
            while len(api.calls) < 3:
                assert time.monotonic() < until, api.calls
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # nothing more comes
    assert sorted(receiver.keys()) == [f"{CHANNEL}/1", f"{CHANNEL}/4"]
    first = next(b for b in receiver.bodies() if b["message_id"] == 1)
    assert first["profile"] == "jobs"
    # The post's time reached the model with it: "до пятницы" posted on a Monday
    assert first["result"]["deadline"] == "2026-01-23"
    assert first["result"]["apply_url"] == "https://acme.example/jobs/1"  # the hidden link
    assert len(api.calls) == 3  # the three job posts of the jobs channel
    assert {call["chat_id"] for call in api.calls} == {"@jobs_digest"}
    texts = sorted(call["text"] for call in api.calls)
    assert texts[0] == (
        "💼 Ищем Java-разработчика в офис (office) в Берлине.\n"
        "Apply by —: —\nOriginal: https://t.me/py_jobs/2"
    )
    assert texts[1] == (
        "💼 Ищем Python-разработчика в Acme, remote.\n"
        "Apply by 2026-01-23: https://acme.example/jobs/1\nOriginal: https://t.me/py_jobs/1"
    )


def test_a_prompt_without_the_schema_placeholder_is_refused_at_start(tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Extract the job title as JSON.", encoding="utf-8")
    env = {"LLM_API_KEY": KEY, "LLM_PROMPT_FILE": str(prompt), "SQLITE_PATH": "s.sqlite3"}
    for args in (("parse", "Python developer wanted"), ("process", "--until-idle")):
        result = cli(*args, cwd=tmp_path, env=env, timeout=60)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "LLM_PROMPT_FILE" in result.stderr and "{schema}" in result.stderr


def test_a_bad_route_is_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[routes]]\nname = "x"\nwebhook = "ftp://nowhere"\n', encoding="utf-8")
    env = {"LLM_API_KEY": KEY, "CONFIG_FILE": str(config), "SQLITE_PATH": "s.sqlite3"}
    result = cli("process", "--until-idle", cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and "routes.0.webhook" in result.stderr
