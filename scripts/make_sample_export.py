#!/usr/bin/env python3
"""Generate the demo's bundled sample export (src/bootstrap/demo/sample_export.json).

A Telegram Desktop single-channel export of our own making: about two hundred posts of a
fictional channel in Russian and English (jobs, news, ads, announcements), some exact
reposts of earlier texts, a few service messages and media-only posts, text both as plain
strings and as arrays of pieces. Every company, person and link is invented.
Deterministic: the same seed gives the same bytes.

    python scripts/make_sample_export.py [OUTPUT]
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20260125
CHANNEL_NAME = "IT-доска: вакансии и новости (демо)"
CHANNEL_ID = 1700000001  # bare, as Telegram Desktop writes it
LOCAL = timedelta(hours=3)  # the exporting machine's zone (dates are local, no zone)
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
OUTPUT = Path(__file__).resolve().parents[1] / "src" / "bootstrap" / "demo" / "sample_export.json"

COMPANIES_RU = ["Северный Код", "Квант-Софт", "ТехноПарк Плюс", "Ладья Финтех", "Берёза Дата"]
COMPANIES_EN = ["Lumen Analytics", "Bright Harbor Labs", "Orbital Foods", "Kestrel Mobility"]
ROLES_RU = [
    "Python-разработчик",
    "Backend-разработчик (Go)",
    "Data Engineer",
    "QA-инженер",
    "DevOps-инженер",
    "Аналитик данных",
    "Frontend-разработчик (React)",
]
ROLES_EN = [
    "Senior Python Engineer",
    "Site Reliability Engineer",
    "Machine Learning Engineer",
    "Product Designer",
    "Engineering Manager",
]
CITIES_RU = ["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "удалённо"]
CITIES_EN = ["Berlin", "Lisbon", "Belgrade", "Tbilisi", "remote (EU time zones)"]
STACKS = [
    "Python 3.12, FastAPI, PostgreSQL, Redis",
    "asyncio, aiohttp, MongoDB, Kafka",
    "Django, Celery, ClickHouse",
    "Go, gRPC, Kubernetes",
    "pandas, Airflow, dbt, BigQuery",
]
NEWS_RU = [
    "В Казани прошёл хакатон по открытым данным: {n} команд, победил проект по учёту "
    "городского транспорта.",
    "Городской ИТ-кластер объявил набор в бесплатную школу тестировщиков, {n} мест.",
    "Вышла новая версия нашего бота-агрегатора: теперь он понимает вакансии с вилкой "
    "в долларах и евро.",
    "Опрос подписчиков: {n}% работают удалённо, треть — в гибридном формате.",
    "Конференция «Код на Волге» переносится на весну, билеты остаются в силе.",
]
NEWS_EN = [
    "Survey of our readers: {n}% would switch jobs for a four-day week.",
    "A new open-source release of the Kestrel routing engine cut build times by {n}%.",
    "The Lisbon tech meetup is back: {n} talks on data pipelines and LLM tooling.",
    "Reminder: salary ranges are now required in every job post on this channel.",
]
ADS_RU = [
    "Курс «Python для аналитиков» — скидка {n}% до конца недели. Пробный урок бесплатно!",
    "Ищете офис? Коворкинг «Берёза» у метро: первые {n} дней бесплатно.",
    "Английский для разработчиков: разговорный клуб по средам, группа до {n} человек.",
]
ADS_EN = [
    "Ergonomic chairs for remote teams — {n}% off with code DEMO.",
    "Mock interviews with senior engineers: book a {n}-minute session.",
]
ANNOUNCEMENTS = [
    "📌 Правила канала: одна вакансия — один пост, обязательно указывайте вилку.",
    "📣 Channel update: we now post vacancies in English and Russian.",
    "🎉 Нас уже {n} тысяч! Спасибо, что читаете.",
    "🗓 Митап подписчиков в пятницу в 19:00, регистрация по ссылке в закрепе.",
]


def salary_ru(rng: random.Random) -> str:
    low = rng.randrange(150, 350, 10)
    return f"{low}–{low + rng.randrange(30, 120, 10)} тыс. ₽"


def salary_en(rng: random.Random) -> str:
    low = rng.randrange(50, 110, 5)
    return f"€{low}k–€{low + rng.randrange(10, 40, 5)}k"


def job_ru(rng: random.Random) -> tuple[str, list[Any]]:
    role, company = rng.choice(ROLES_RU), rng.choice(COMPANIES_RU)
    city, stack, pay = rng.choice(CITIES_RU), rng.choice(STACKS), salary_ru(rng)
    tail = (
        f" в компанию «{company}»\n\n📍 {city}\n💰 {pay}\n🛠 {stack}\n\n"
        f"Откликаться: @hr_{company_slug(company)}_demo "
    )
    return "vacancy", [{"type": "bold", "text": f"Вакансия: {role}"}, tail, tag("#вакансия")]


def job_en(rng: random.Random) -> tuple[str, list[Any]]:
    role, company = rng.choice(ROLES_EN), rng.choice(COMPANIES_EN)
    city, stack, pay = rng.choice(CITIES_EN), rng.choice(STACKS), salary_en(rng)
    slug = company_slug(company)
    return "vacancy", [
        {"type": "bold", "text": f"Hiring: {role}"},
        f" at {company}\n\nLocation: {city}\nSalary: {pay}\nStack: {stack}\n\nApply: ",
        {
            "type": "text_link",
            "text": "application form",
            "href": f"https://jobs.example.com/{slug}",
        },
        " ",
        tag("#job"),
    ]


def company_slug(name: str) -> str:
    table = str.maketrans("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "abvgdeejzijklmnoprstufhccss_y_eua")
    return "".join(c for c in name.lower().translate(table) if c.isalnum())


def tag(text: str) -> dict[str, str]:
    return {"type": "hashtag", "text": text}


def simple(rng: random.Random, pool: list[str]) -> tuple[str, list[Any]]:
    return "text", [rng.choice(pool).format(n=rng.randrange(5, 60))]


def news(rng: random.Random) -> tuple[str, list[Any]]:
    text = rng.choice(NEWS_RU + NEWS_EN).format(n=rng.randrange(5, 60))
    if rng.random() < 0.4:
        link = f"https://news.example.org/{rng.randrange(1000, 9999)}"
        return "news", [text, "\n\n", {"type": "link", "text": link}]
    return "news", [text]


def plain(pieces: list[Any]) -> str:
    return "".join(p if isinstance(p, str) else p["text"] for p in pieces)


def entities(pieces: list[Any]) -> list[dict[str, Any]]:
    return [{"type": "plain", "text": p} if isinstance(p, str) else p for p in pieces]


def stamp(message: dict[str, Any], when: datetime) -> None:
    message["date"] = (when + LOCAL).replace(tzinfo=None).isoformat()
    message["date_unixtime"] = str(int(when.timestamp()))


def make_post(rng: random.Random) -> list[Any]:
    kind = rng.choices(["ru_job", "en_job", "news", "ad", "announce"], [30, 18, 27, 15, 10])[0]
    if kind == "ru_job":
        return job_ru(rng)[1]
    if kind == "en_job":
        return job_en(rng)[1]
    if kind == "news":
        return news(rng)[1]
    if kind == "ad":
        return simple(rng, ADS_RU + ADS_EN)[1]
    return simple(rng, ANNOUNCEMENTS)[1]


def build(rng: random.Random) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    when = START
    earlier: list[list[Any]] = []
    service = {1: "create_channel", 40: "pin_message", 95: "edit_channel_title", 160: "pin_message"}
    for message_id in range(1, 221):
        when += timedelta(minutes=rng.randrange(20, 240))
        message: dict[str, Any] = {"id": message_id}
        if message_id in service:
            message |= {"type": "service"}
            stamp(message, when)
            message |= {"actor": CHANNEL_NAME, "actor_id": f"channel{CHANNEL_ID}"}
            message["action"] = service[message_id]
            if service[message_id] == "pin_message":
                message["message_id"] = message_id - 1
            if service[message_id] == "edit_channel_title":
                message["title"] = CHANNEL_NAME
            message |= {"text": "", "text_entities": []}
            messages.append(message)
            continue
        message["type"] = "message"
        stamp(message, when)
        message |= {"from": CHANNEL_NAME, "from_id": f"channel{CHANNEL_ID}"}
        if message_id % 27 == 0:  # a photo without a caption
            message |= {
                "photo": "(File not included. Change data exporting settings to download.)",
                "width": 1280,
                "height": 720,
                "text": "",
                "text_entities": [],
            }
            messages.append(message)
            continue
        if earlier and rng.random() < 0.1:  # an exact repost of an earlier text
            pieces = rng.choice(earlier)
            message["forwarded_from"] = rng.choice(
                ["Партнёрский канал (демо)", "Dev Digest (demo)"]
            )
        else:
            pieces = make_post(rng)
            earlier.append(pieces)
        if message_id % 11 == 0:  # a photo with the post as its caption
            message |= {"photo": f"photos/photo_{message_id}.jpg", "width": 1280, "height": 853}
        if rng.random() < 0.08:
            message["edited"] = message["date"]
            message["edited_unixtime"] = message["date_unixtime"]
        unformatted = all(isinstance(p, str) for p in pieces)
        message["text"] = plain(pieces) if unformatted else pieces
        message["text_entities"] = entities(pieces)
        messages.append(message)
    return {"name": CHANNEL_NAME, "type": "public_channel", "id": CHANNEL_ID, "messages": messages}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else OUTPUT
    document = build(random.Random(SEED))
    output.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{output}: {len(document['messages'])} messages, {output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
