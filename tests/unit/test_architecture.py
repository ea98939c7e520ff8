"""Fails when an import points outwards (see docs/adr/0001)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS = ["domain", "application", "adapters", "bootstrap"]  # inner to outer
DOMAIN_MAY_IMPORT = {"attrs", "__future__"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _allowed_in_domain(top: str) -> bool:
    return top in DOMAIN_MAY_IMPORT or top in sys.stdlib_module_names


def _layer_files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


def outward_imports(layer: str) -> list[str]:
    """Every import in *layer* of one of our layers further out, or (for the domain)
    of anything but the standard library and attrs."""
    rank = LAYERS.index(layer)
    bad = []
    for path in _layer_files(layer):
        for line, module in _imports(path):
            top = module.split(".")[0]
            where = f"{path.relative_to(SRC)}:{line} imports {module}"
            if top in LAYERS and LAYERS.index(top) > rank:
                bad.append(where)
            elif layer == "domain" and top not in LAYERS and not _allowed_in_domain(top):
                bad.append(where)
            if layer == "domain" and top in {"asyncio", "time", "random", "socket", "os"}:
                bad.append(where + " (the domain does no I/O and reads no clock)")
    return bad


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_inwards(layer: str) -> None:
    assert _layer_files(layer), f"no Python files found in src/{layer}"
    assert outward_imports(layer) == []


def test_the_check_catches_an_outward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_src = tmp_path / "src"
    (fake_src / "domain").mkdir(parents=True)
    (fake_src / "domain" / "bad.py").write_text(
        "import time\nfrom adapters.x import y\nimport pymongo\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake_src)
    assert len(outward_imports("domain")) == 3


def test_only_bootstrap_imports_the_container() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for layer in ("domain", "application", "adapters")
        for path in _layer_files(layer)
        for line, module in _imports(path)
        if module.split(".")[0] == "dependency_injector"
    ]
    assert offenders == []
