"""The admins' notification texts, in Russian.

The first two are SPEC.md's, verbatim; only the time, the attempt and the
delay are filled in. The others follow their style. When earlier
notifications of the same kind were suppressed by the throttle, one line
saying how many is added at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def format_time(at: datetime) -> str:
    """SPEC.md's time format: ``2026-01-25 18:42:51 UTC``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(delay: timedelta) -> int:
    return round(delay.total_seconds())


def with_suppressed(text: str, suppressed: int) -> str:
    if suppressed <= 0:
        return text
    return f"{text}\n\n🔕 Похожих уведомлений подавлено с прошлого раза: {suppressed}"


def quota_exhausted(at: datetime) -> str:
    return (
        "🚨 Исчерпан лимит LLM API!\n"
        "\n"
        "Новые сообщения НЕ парсятся\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        "\n"
        "Проверьте баланс и пополните счет."
    )


def rate_limited(at: datetime, attempt: int, delay: timedelta) -> str:
    return (
        "⚠️ Превышен лимит concurrency LLM API!\n"
        "\n"
        "Обработка временно замедлена\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"🔄 Повторная попытка: {attempt}\n"
        f"⏳ Задержка: {_seconds(delay)} секунд\n"
        "\n"
        "Сообщения будут обработаны с задержкой.\n"
        "Это нормальная ситуация при высокой нагрузке.\n"
        "\n"
        "💡 Для увеличения лимита обратитесь в Z.AI support."
    )


def quota_restored(at: datetime, requeued: int, backlog: int) -> str:
    return (
        "✅ Лимит LLM API восстановлен!\n"
        "\n"
        "Парсинг сообщений возобновлён\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"🔁 Возвращено в очередь: {requeued}\n"
        f"📥 Ожидают обработки: {backlog}\n"
        "\n"
        "Сообщения будут обработаны автоматически."
    )


def misconfigured(at: datetime, code: str | None, reason: str) -> str:
    return (
        "⛔ Ошибка настройки LLM API!\n"
        "\n"
        "Парсинг остановлен до исправления настроек\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"🧾 Код ошибки: {code or '—'}\n"
        f"📝 Причина: {reason or '—'}\n"
        "\n"
        "Что сделать: исправьте LLM_API_KEY, LLM_MODEL или LLM_BASE_URL и перезапустите\n"
        "сервис — при новых настройках он сам проверит их и продолжит парсинг.\n"
        "Если настройки верны (ошибка была у провайдера), выполните\n"
        "`channel-parser resume`: без этого парсинг не возобновится."
    )


def storage_outage(at: datetime, detail: str) -> str:
    return (
        "🗄️ База данных недоступна!\n"
        "\n"
        "Обработка приостановлена, сообщения не теряются\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"📝 Подробности: {detail}\n"
        "\n"
        "Сервис переподключится автоматически."
    )


def _channel(ref: str, channel_id: int | None, title: str | None) -> str:
    shown = f"{title} ({ref})" if title else ref
    return f"{shown}, id {channel_id}" if channel_id is not None else shown


CHANNEL_HINT = "Проверьте, что аккаунт состоит в канале и канал существует."


def channel_unavailable(
    at: datetime,
    ref: str,
    channel_id: int | None,
    title: str | None,
    reason: str,
    hint: str | None = None,
) -> str:
    return (
        "⚠️ Канал недоступен!\n"
        "\n"
        "Новые посты канала НЕ читаются\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"📢 Канал: {_channel(ref, channel_id, title)}\n"
        f"❓ Причина: {reason}\n"
        "\n"
        "Сохранённые посты канала ждут, пока доступ не восстановится.\n"
        "Доступ проверяется повторно автоматически.\n"
        "\n"
        f"💡 {hint or CHANNEL_HINT}"
    )


def channel_available(at: datetime, ref: str, channel_id: int | None, title: str | None) -> str:
    return (
        "✅ Канал снова доступен\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"📢 Канал: {_channel(ref, channel_id, title)}\n"
        "\n"
        "Пропущенные посты будут загружены и обработаны."
    )


def telegram_flood_wait(
    at: datetime, ref: str, channel_id: int | None, seconds: int, request: str
) -> str:
    until = at + timedelta(seconds=seconds)
    return (
        "⏳ Telegram просит подождать!\n"
        "\n"
        "Чтение одного канала приостановлено\n"
        "\n"
        f"⏰ Время: {format_time(at)}\n"
        f"📢 Канал: {_channel(ref, channel_id, None)}\n"
        f"🔧 Запрос: {request}\n"
        f"⏳ Ожидание: {seconds} секунд (до {format_time(until)})\n"
        "\n"
        "Остальные каналы читаются как обычно.\n"
        "Чтение продолжится автоматически, пропущенные посты будут загружены."
    )
