"""A black-box run of the issue's four scenarios: the installed `channel-parser` CLI,
against the independent stand-in (bench/standin.py, no code shared with the project's
simulator), each as an operator would run it.

For each row: a synthetic Telegram Desktop export of --posts distinct posts is imported
into a fresh SQLite file (`channel-parser import`), then `channel-parser process
--until-idle` runs in --procs processes at once on that file, with SPEC.md's backoff
divided by 30 (BACKOFF_BASE_SECONDS=1, BACKOFF_CAP_SECONDS=16) and every other setting
at its default. Posts refused with 1302 wait for their retry; passes of `process
--until-idle` are repeated until `channel-parser status --json` shows every post done.

Throughput is that of the first pass: the posts answered in it, over the ideal of its
window (from the stand-in's first call to its last good answer in the pass: the hidden
limit integrated over the window, divided by the mean latency). Refusals and
duplicates count every pass.

    python bench/blackbox.py [--posts 2000] [--rows 1,2,3,4] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLI = str(Path(sys.executable).with_name("channel-parser"))

# The table: (name, limit schedule, mean latency ms, lognormal sigma, processes)
ROWS = {
    1: ("fixed limit 8, latency 200 ms (sigma 0.25)", "8", 200.0, 0.25, 1),
    2: ("fixed limit 8, heavy-tailed latency (sigma 0.8)", "8", 200.0, 0.8, 1),
    3: ("limit 8, then 4 after 15 s, then 12 after 30 s", "8,4@15,12@30", 200.0, 0.25, 1),
    4: ("3 worker processes on one store, limit 6, 100 ms", "6", 100.0, 0.25, 3),
}
GOALS = {1: (0.95, 0.005), 2: (0.92, 0.01), 3: (0.85, 0.01), 4: (0.90, 0.01)}


def limit_seconds(schedule: str, window: float) -> float:
    """The hidden limit integrated over [0, window] seconds."""
    first, *rest = schedule.split(",")
    changes = sorted((float(at), int(limit)) for limit, at in (p.split("@") for p in rest))
    edges = [0.0, *(at for at, _ in changes if at < window), window]
    total = 0.0
    for start, end in itertools.pairwise(edges):
        limit = int(first)
        for since, value in changes:
            if start >= since:
                limit = value
        total += limit * (end - start)
    return total


def export(posts: int, path: Path) -> None:
    """A Telegram Desktop single-channel export of *posts* distinct text posts."""
    start = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    messages = []
    for i in range(1, posts + 1):
        when = start + timedelta(minutes=i)
        text = f"Вакансия №{i}: Python-разработчик, зарплата {1000 + i} USD, Москва #{i}"
        messages.append(
            {
                "id": i,
                "type": "message",
                "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(int(when.timestamp())),
                "from": "Black-box channel",
                "from_id": "channel1800000001",
                "text": text,
                "text_entities": [{"type": "plain", "text": text}],
            }
        )
    body = {"name": "Black-box", "type": "public_channel", "id": 1800000001, "messages": messages}
    path.write_text(json.dumps(body, ensure_ascii=False))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, data: bytes | None = None) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
        return json.load(response)


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=900
    )


def run_row(number: int, posts: int) -> dict[str, Any]:
    name, schedule, latency_ms, sigma, procs = ROWS[number]
    port = free_port()
    standin = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "standin.py"),
            "--port",
            str(port),
            "--limit-schedule",
            schedule,
            "--latency-ms",
            str(latency_ms),
            "--latency-sigma",
            str(sigma),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert standin.stdout is not None and "listening" in standin.stdout.readline()
        root = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(prefix="blackbox-") as tmp:
            work = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "MONGODB_"))}
            env |= {
                "SQLITE_PATH": str(work / "store.sqlite3"),
                "LLM_PROVIDER": "zai",
                "LLM_BASE_URL": f"{root}/api/paas/v4",
                "LLM_API_KEY": "blackbox-key",
                "BACKOFF_BASE_SECONDS": "1",
                "BACKOFF_CAP_SECONDS": "16",
                "METRICS_PORT": "0",
                "LOG_LEVEL": "ERROR",
            }
            export(posts, work / "result.json")
            imported = cli(env, work, "import", "result.json")
            assert imported.returncode == 0, imported.stderr
            get(f"{root}/reset", b"{}")
            first_pass: dict[str, Any] | None = None
            passes = 0
            done = 0
            while done < posts:
                passes += 1
                if passes > 30:
                    raise RuntimeError(f"row {number}: {posts - done} posts never got done")
                workers = [
                    subprocess.Popen(
                        [CLI, "process", "--until-idle"],
                        env=env,
                        cwd=work,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    for _ in range(procs)
                ]
                for worker in workers:
                    _, err = worker.communicate(timeout=900)
                    assert worker.returncode == 0, err
                if first_pass is None:
                    first_pass = get(f"{root}/stats")
                status = json.loads(cli(env, work, "status", "--json").stdout)
                done = status["messages"]["done"]
                if done < posts:
                    time.sleep(1.0)  # the refused ones wait for their retry (1 s, then 2 s)
            final = get(f"{root}/stats")
    finally:
        standin.terminate()
        standin.wait(timeout=10)
    assert first_pass is not None  # the loop ran at least one pass
    window = first_pass["first_call_to_last_success"]
    ideal = limit_seconds(schedule, window) / (latency_ms / 1000)
    share = first_pass["successes"] / ideal
    refused = final["refused_1302"] / final["calls"]
    goal_share, goal_refused = GOALS[number]
    return {
        "row": number,
        "scenario": name,
        "posts": posts,
        "processes": procs,
        "passes": passes,
        "first_pass_seconds": round(window, 2),
        "first_pass_answered": first_pass["successes"],
        "share_of_ideal": round(share, 3),
        "calls": final["calls"],
        "refused_1302": final["refused_1302"],
        "refused_share": round(refused, 4),
        "peak_in_flight": final["peak_in_flight"],
        "every_post_answered_once": (
            final["posts_answered"] == posts and final["most_answers_for_one_post"] == 1
        ),
        "goal": f">= {goal_share:.2f} of ideal, <= {goal_refused:.1%} refused",
        "goal_met": share >= goal_share and refused <= goal_refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rows", default="1,2,3,4")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    rows = [run_row(int(n), args.posts) for n in args.rows.split(",")]
    load = os.getloadavg()
    if args.json:
        json.dump({"load_average_at_end": load, "rows": rows}, sys.stdout, indent=2)
        print()
        return
    print(f"{'scenario':<50}{'of ideal':>9}{'refused':>9}{'peak':>6}{'passes':>7}{'once':>6}")
    for r in rows:
        print(
            f"{r['scenario']:<50}{r['share_of_ideal']:>9.3f}{r['refused_share']:>9.2%}"
            f"{r['peak_in_flight']:>6}{r['passes']:>7}"
            f"{'yes' if r['every_post_answered_once'] else 'NO':>6}"
            f"   goal {r['goal']}: {'met' if r['goal_met'] else 'NOT met'}"
        )
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
