"""The delivery routes from DELIVER_WEBHOOK_URL and the config file's ``[[routes]]``, with
their senders (async resources: their HTTP sessions are closed at the end)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from channel_parser.application.errors import ConfigurationError
from channel_parser.application.ports.notify import NotificationSender
from channel_parser.application.ports.routes import ResultRoute
from channel_parser.bootstrap.config_file import LoadedConfig
from channel_parser.bootstrap.settings import Settings

SIMPLE_ROUTE = "webhook"  # the route of DELIVER_WEBHOOK_URL


@attrs.frozen
class Routes:
    routes: list[ResultRoute] = attrs.field(factory=list)
    senders: dict[str, NotificationSender] = attrs.field(factory=dict)  # by topic


def _environment() -> Mapping[str, str]:
    """The process's environment over the .env file (as the settings read them)."""
    from dotenv import dotenv_values

    found = {k: v for k, v in dotenv_values(Path(".env")).items() if v}
    return {**found, **os.environ}


def make_routes(settings: Settings, config: LoadedConfig) -> Routes:
    """Every route checked at start (one line, exit 2, for anything wrong). The senders
    open their connections on the first try; ``Deliveries`` closes them when it stops."""
    from channel_parser.adapters.deliver.routes import Route, compile_condition, compile_template
    from channel_parser.adapters.deliver.telegram_route import TelegramRouteSender
    from channel_parser.adapters.deliver.webhook import WebhookSender

    built = Routes()

    def add(route: Route, sender: Any) -> None:
        built.routes.append(route)
        built.senders[route.topic] = sender

    if settings.deliver_webhook_url is not None:
        secret = settings.deliver_webhook_secret
        add(
            Route(SIMPLE_ROUTE, "webhook"),
            WebhookSender(
                SIMPLE_ROUTE,
                settings.deliver_webhook_url.get_secret_value(),
                None if secret is None else secret.get_secret_value(),
            ),
        )
    environment: Mapping[str, str] | None = None
    for n, spec in enumerate(config.content.routes):
        where = config.setting(f"routes.{n}")
        if spec.name in {r.topic.split(":", 1)[1] for r in built.routes}:
            raise ConfigurationError(
                f"setting {where}.name: {spec.name!r} is DELIVER_WEBHOOK_URL's route; "
                "choose another name"
            )
        condition = None if spec.when is None else compile_condition(spec.when)
        if spec.webhook is not None:
            secret_value = None
            if spec.secret_env is not None:
                environment = environment or _environment()
                secret_value = environment.get(spec.secret_env)
                if not secret_value:
                    raise ConfigurationError(
                        f"setting {where}.secret_env: the variable {spec.secret_env} is not set"
                    )
            add(
                Route(spec.name, "webhook", condition),
                WebhookSender(spec.name, spec.webhook, secret_value),
            )
            continue
        assert spec.telegram_chat is not None and spec.template is not None
        if settings.admin_bot_token is None:
            raise ConfigurationError(
                f"setting {where}.telegram_chat: needs ADMIN_BOT_TOKEN, the bot that posts"
            )
        add(
            Route(spec.name, "telegram", condition, compile_template(spec.template)),
            TelegramRouteSender(
                spec.name,
                spec.telegram_chat,
                settings.admin_bot_token.get_secret_value(),
                api_base=settings.admin_bot_api_base,
            ),
        )
    return built


def all_senders(
    admin_topic: str, admins: NotificationSender, routes: Routes
) -> dict[str, NotificationSender]:
    return {admin_topic: admins, **routes.senders}
