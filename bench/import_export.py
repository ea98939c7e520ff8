"""Importing a Telegram Desktop export at real size: time and peak memory.

Generates a single-channel export of --posts posts (200 000 by default: about 66 MB,
the size issue 13 measured), then, each in a process of its own on a fresh SQLite file:

- baseline: what the importer did before, ``json.loads`` of the whole file and a list of
  its messages (no storing at all);
- import: ``channel-parser import FILE`` (stream, validate, store in batches);
- again: the same import a second time, which must add nothing.

Printed: wall seconds and peak RSS (the process's own, from ``wait4``) of each, the ratios
import/baseline, and whether the goals hold (import <= 30 s and <= 150 MB; the second
import stores 0). ``--scale 3`` also imports an export three times as large, to show the
peak memory does not grow with the file.

    python bench/import_export.py [--posts 200000] [--scale 3] [--json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "channel_parser.bootstrap.cli"]
BASELINE = (
    "import json, sys\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    doc = json.loads(f.read())\n"
    "messages = list(doc['messages'])\n"
    "print(len(messages))\n"
)
WORDS = [
    "Ищем",
    "Python-разработчика",
    "в",
    "команду",
    "платежей",
    "удалённо",
    "asyncio",
    "PostgreSQL",
    "Kafka",
    "зарплата",
    "опыт",
    "от",
    "трёх",
    "лет",
    "офис",
    "в",
    "Москве",
    "гибрид",
    "senior",
    "backend",
    "engineer",
    "remote",
    "FastAPI",
    "Redis",
    "Kubernetes",
    "откликнуться",
    "подробности",
    "в",
    "комментариях",
]


def message(i: int, rng: random.Random) -> dict[str, Any]:
    date = 1735689600 + i * 60
    base: dict[str, Any] = {
        "id": i,
        "type": "message",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(date)),
        "date_unixtime": str(date),
        "from": "Jobs",
        "from_id": "channel1700000099",
    }
    if i % 50 == 0:
        return {**base, "type": "service", "actor": "Вакансии", "action": "pin_message"}
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
    if i % 10 == 0:  # a photo without caption
        return {**base, "photo": "(File not included.)", "width": 800, "height": 600, "text": ""}
    if i % 3 == 0:  # formatted, with a hidden link
        pieces = [
            {"type": "bold", "text": f"Вакансия {i}"},
            f": {words}. ",
            {"type": "text_link", "text": "Откликнуться", "href": f"https://jobs.example/{i}"},
        ]
        return {**base, "text": pieces, "text_entities": pieces}
    return {**base, "text": f"{words} #{i % 97}", "text_entities": []}


def generate(path: Path, posts: int) -> None:
    rng = random.Random(20261201)
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "name": "Вакансии (bench)",\n "type": "public_channel",\n')
        out.write(' "id": 1700000099,\n "messages": [\n')
        for i in range(1, posts + 1):
            out.write("  " + json.dumps(message(i, rng), ensure_ascii=False))
            out.write(",\n" if i < posts else "\n")
        out.write(" ]\n}\n")


def measured(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a process; its wall seconds, peak RSS (MB) and output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[-2:])} failed ({proc.returncode}): {err[-2000:]}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "out": out}


def stored_new(output: str) -> int:
    line = next(line for line in output.splitlines() if "stored (new)" in line)
    return int(line.split("│")[-2].strip())


def run(posts: int, workdir: Path) -> dict[str, Any]:
    export = workdir / f"export-{posts}.json"
    generate(export, posts)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "SQLITE_"))}
    env.update({"SQLITE_PATH": str(workdir / f"store-{posts}.sqlite3"), "COLUMNS": "200"})
    baseline = measured([sys.executable, "-c", BASELINE, str(export)], env, workdir)
    first = measured([*CLI, "import", str(export)], env, workdir)
    second = measured([*CLI, "import", str(export)], env, workdir)
    return {
        "posts": posts,
        "file_mb": export.stat().st_size / 2**20,
        "baseline": {k: v for k, v in baseline.items() if k != "out"},
        "import": {k: v for k, v in first.items() if k != "out"},
        "again": {k: v for k, v in second.items() if k != "out"},
        "stored": stored_new(first["out"]),
        "stored_again": stored_new(second["out"]),
    }


def report(result: dict[str, Any], base: dict[str, Any]) -> None:
    b, i, a = result["baseline"], result["import"], result["again"]
    print(f"\n{result['posts']} messages, {result['file_mb']:.1f} MB export")
    print(f"{'':28}{'seconds':>10}{'peak RSS MB':>14}")
    print(f"{'baseline: json.loads + list':28}{b['seconds']:>10.1f}{b['peak_mb']:>14.0f}")
    print(f"{'import (stream + store)':28}{i['seconds']:>10.1f}{i['peak_mb']:>14.0f}")
    print(f"{'import again (adds nothing)':28}{a['seconds']:>10.1f}{a['peak_mb']:>14.0f}")
    print(
        f"import/baseline: time {i['seconds'] / b['seconds']:.2f}x, "
        f"peak memory {i['peak_mb'] / b['peak_mb']:.2f}x"
    )
    print(f"stored {result['stored']} posts, the second import {result['stored_again']}")
    if result is base:
        goals = i["seconds"] <= 30 and i["peak_mb"] <= 150 and result["stored_again"] == 0
        verdict = "met" if goals else "MISSED"
        print(f"goals (<= 30 s, <= 150 MB, second import adds nothing): {verdict}")
    else:
        grown = i["peak_mb"] / base["import"]["peak_mb"]
        size = result["file_mb"] / base["file_mb"]
        print(f"a {size:.1f}x larger file: peak memory {grown:.2f}x the first import's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--scale", type=int, default=1, help="also import an export this × larger")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="generate and keep the files here")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [args.posts] + ([args.posts * args.scale] if args.scale > 1 else [])
    results = [run(posts, workdir) for posts in sizes]
    if args.json:
        print(json.dumps(results, indent=2))
    for result in results:
        report(result, results[0])
    if not args.keep:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
