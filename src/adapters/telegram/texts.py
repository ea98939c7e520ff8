"""The admins' notifications about channels, in Russian, in the style of SPEC.md's texts."""

from __future__ import annotations

from datetime import datetime

from channel_parser.application.notifications import format_time as _when


def _name(ref: str, channel_id: int | None, title: str | None) -> str:
    shown = f"{title} ({ref})" if title else ref
    return f"{shown}, id {channel_id}" if channel_id is not None else shown


def channel_unavailable(
    ref: str, channel_id: int | None, title: str | None, reason: str, now: datetime
) -> str:
    return (
        "⚠️ Канал недоступен!\n\n"
        "Новые посты канала НЕ читаются\n\n"
        f"⏰ Время: {_when(now)}\n"
        f"📢 Канал: {_name(ref, channel_id, title)}\n"
        f"❓ Причина: {reason}\n\n"
        "Сохранённые посты канала ждут, пока доступ не восстановится.\n"
        "Доступ проверяется повторно автоматически.\n\n"
        "💡 Проверьте, что аккаунт состоит в канале и канал существует."
    )


def channel_available(ref: str, channel_id: int | None, title: str | None, now: datetime) -> str:
    return (
        "✅ Канал снова доступен\n\n"
        f"⏰ Время: {_when(now)}\n"
        f"📢 Канал: {_name(ref, channel_id, title)}\n\n"
        "Пропущенные посты будут загружены и обработаны."
    )
