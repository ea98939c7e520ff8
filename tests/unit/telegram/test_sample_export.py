"""The demo's bundled sample export: reproducible, readable, and the mix the demo needs."""

from __future__ import annotations

import importlib.util
import random
import re
import sys
from collections import Counter
from pathlib import Path

from channel_parser.adapters.telegram.export import NO_TEXT, SERVICE, read_export
from channel_parser.application.ports.storage import NewPost
from channel_parser.bootstrap.demo import SAMPLE_EXPORT

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "make_sample_export.py"


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_sample_export", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sample_export"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bundled_file_is_what_the_script_generates(tmp_path: Path) -> None:
    script = load_script()
    out = tmp_path / "sample.json"
    script.main([str(out)])
    assert out.read_bytes() == SAMPLE_EXPORT.read_bytes()
    assert script.build(random.Random(1)) != script.build(random.Random(script.SEED))


def test_the_sample_has_the_mix_the_demo_needs() -> None:
    assert SAMPLE_EXPORT.stat().st_size < 300_000
    contents = read_export(SAMPLE_EXPORT)
    posts = [i for i in contents.items if isinstance(i, NewPost)]
    skipped = Counter(i.reason for i in contents.items if not isinstance(i, NewPost))
    assert 180 <= len(posts) <= 260
    assert skipped[SERVICE] >= 3 and skipped[NO_TEXT] >= 3
    russian = sum(bool(re.search("[а-яё]", p.text)) for p in posts)
    assert 0.3 < russian / len(posts) < 0.8  # both languages
    repeats = sum(n - 1 for n in Counter(p.text for p in posts).values() if n > 1)
    assert repeats >= 10  # reposts: the parse cache has something to hit
    assert {p.channel_id for p in posts} == {-1001700000001}
    raw = SAMPLE_EXPORT.read_text(encoding="utf-8")
    assert '"text": [' in raw and '"text": "' in raw  # both forms of text
