"""The service's Telegram listener: only the process holding the account's lease
connects the session; a lost connection stops the service with one line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

import channel_parser.adapters.telegram.client as client_module
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.app import ServiceStopped
from channel_parser.bootstrap.container import Container
from channel_parser.domain.message import MessageKey
from channel_parser.domain.status import MessageStatus
from tests.integration.engine_support import service, settings_for, simulator
from tests.unit.telegram.fake_telethon import BARE, MARKED, FakeClient, channel, post


async def run_service(container: Container) -> None:
    """What `run` does: the service as the container builds it, until stopped."""
    await (await container.service.async_()).run()


class ConnectingClient(FakeClient):
    """The fake Telethon client, plus the connection calls the service makes."""

    connected_now = 0  # across every client of the test: the session's users at once
    most_at_once = 0

    def __init__(self) -> None:
        super().__init__()
        self.entities["@jobs"] = channel()
        self.history[BARE] = [post(1, "Вакансия: Python-разработчик")]
        self.connections = 0
        self.disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def connect(self) -> None:
        self.connections += 1
        ConnectingClient.connected_now += 1
        ConnectingClient.most_at_once = max(
            ConnectingClient.most_at_once, ConnectingClient.connected_now
        )
        if self.disconnected.done():
            self.disconnected = asyncio.get_running_loop().create_future()

    async def disconnect(self) -> None:
        ConnectingClient.connected_now -= 1

    async def is_user_authorized(self) -> bool:
        return True


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> list[ConnectingClient]:
    made: list[ConnectingClient] = []
    ConnectingClient.connected_now = ConnectingClient.most_at_once = 0

    def make(session: Path, api_id: int, api_hash: str) -> ConnectingClient:
        made.append(ConnectingClient())
        return made[-1]

    monkeypatch.setattr(client_module, "make_client", make)
    return made


def telegram_settings(base_url: str, tmp_path: Path) -> Any:
    (tmp_path / "account.session").touch()  # `channel-parser login` made it
    return settings_for(
        base_url,
        tmp_path / "listener.sqlite3",
        telegram_api_id=12345,
        telegram_api_hash=SecretStr("0123456789abcdef0123456789abcdef"),
        telegram_session=tmp_path / "account.session",
        telegram_channels=["@jobs"],
    )


async def test_only_the_lease_holder_connects_and_the_post_is_parsed(
    tmp_path: Path, clients: list[ConnectingClient]
) -> None:
    async with simulator() as sim:
        settings = telegram_settings(sim.base_url, tmp_path)
        async with service(settings) as first, service(settings) as second:
            messages = await first.messages.async_()
            # A channel with posts stored is backfilled from its highest id.
            await (await first.ingest.async_())(NewPost(MARKED, 0, "старый пост"))
            one = asyncio.create_task(run_service(first))
            for _ in range(100):
                await asyncio.sleep(0.05)
                found = await messages.get(MessageKey(MARKED, 1))
                if found is not None and found.status is MessageStatus.DONE:
                    break
            assert found is not None and found.status is MessageStatus.DONE
            two = asyncio.create_task(run_service(second))
            await asyncio.sleep(1.0)  # the second process waits for the lease, unconnected
            assert ConnectingClient.most_at_once == 1
            assert [c.connections for c in clients] == [1, 0]
            (await first.engine.async_()).stop()
            (await second.engine.async_()).stop()
            await asyncio.wait_for(asyncio.gather(one, two), 30)
    assert ConnectingClient.connected_now == 0


async def test_a_lost_telegram_connection_stops_the_service(
    tmp_path: Path, clients: list[ConnectingClient]
) -> None:
    async with (
        simulator() as sim,
        service(telegram_settings(sim.base_url, tmp_path)) as container,
    ):
        running = asyncio.create_task(run_service(container))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if clients and clients[0].connections == 2:
                break
        ingest = await container.ingest.async_()
        await ingest(NewPost(MARKED, 2, "ещё пост"))
        clients[0].disconnected.set_result(None)  # Telethon gave up reconnecting
        with pytest.raises(ServiceStopped, match="the Telegram listener stopped"):
            await asyncio.wait_for(running, 30)
    assert ConnectingClient.connected_now == 0


async def test_a_missing_session_file_is_refused_at_start(
    tmp_path: Path, clients: list[ConnectingClient]
) -> None:
    from channel_parser.application.errors import ConfigurationError

    async with simulator() as sim:
        settings = telegram_settings(sim.base_url, tmp_path)
        (tmp_path / "account.session").unlink()
        async with service(settings) as container:
            with pytest.raises(ConfigurationError, match="run `channel-parser login` first"):
                await run_service(container)
    assert ConnectingClient.most_at_once == 0
