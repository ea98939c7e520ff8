"""Every metric the alert rules (deploy/prometheus/alerts.yml) and the dashboard
(deploy/grafana/channel-parser.json) name is one a running service exports: a live
/metrics scrape of `run` (the Telegram listener on the fake client, a post parsed)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import aiohttp
import pytest
import yaml

from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.integration.engine_support import service, simulator
from tests.integration.test_service_listener import (  # the fake Telegram client
    clients,  # noqa: F401 (a fixture, used by name)
    run_service,
    telegram_settings,
)
from tests.unit.telegram.fake_telethon import MARKED

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\bchannel_parser_[a-z_]+\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def referenced() -> dict[str, set[str]]:
    """The metric names each artefact's expressions use."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "channel-parser.json").read_text("utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries += [var["query"] for var in dashboard["templating"]["list"] if var["type"] == "query"]
    return {
        "alerts.yml": {name for expr in exprs for name in NAME.findall(expr)},
        "channel-parser.json": {name for query in queries for name in NAME.findall(query)},
    }


def exported(text: str) -> set[str]:
    """Sample names, and the families of metrics that have no sample yet (a counter with
    labels before its first increment shows only its HELP and TYPE lines)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.mark.usefixtures("clients")  # the fake Telethon client
async def test_every_metric_the_alerts_and_the_dashboard_name_is_exported(tmp_path: Path) -> None:
    port = free_port()
    async with simulator() as sim:
        settings = telegram_settings(sim.base_url, tmp_path).model_copy(
            update={"metrics_host": "127.0.0.1", "metrics_port": port}
        )
        async with service(settings) as container, aiohttp.ClientSession() as http:
            running = asyncio.create_task(run_service(container))
            messages = await container.messages.async_()
            text = ""
            for _ in range(200):  # the listener reads the channel's post; the LLM parses it
                await asyncio.sleep(0.1)
                found = await messages.get(MessageKey(MARKED, 1))
                if found is None or found.status is not MessageStatus.DONE:
                    continue
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
                if "channel_parser_telegram_listener " in text:
                    break
            (await container.engine.async_()).stop()
            await asyncio.wait_for(running, 30)
    names = exported(text)
    assert "channel_parser_llm_call_seconds_bucket" in names, "no LLM call was made"
    for artefact, wanted in referenced().items():
        assert wanted, f"{artefact} names no metric"
        assert wanted - names == set(), f"{artefact} names metrics the service does not export"
