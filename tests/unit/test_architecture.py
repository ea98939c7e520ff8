"""Fails when an import points outwards (see docs/adr/0001 and 0009)."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "channel_parser"  # src installs as this namespace (docs/adr/0009)
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


def _layer_of(module: str) -> str | None:
    """The layer a module of ours belongs to (``channel_parser.adapters.x`` -> adapters)."""
    parts = module.split(".")
    if parts[0] == PACKAGE and len(parts) > 1:
        return parts[1]
    return None


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
            ours = _layer_of(module)
            where = f"{path.relative_to(SRC)}:{line} imports {module}"
            if top in LAYERS:  # a bare top-level name: not installed, fails outside src
                bad.append(where + " (import it as channel_parser.*)")
            elif ours in LAYERS and LAYERS.index(ours) > rank:
                bad.append(where)
            elif ours is not None and ours not in LAYERS and layer != "bootstrap":
                bad.append(where + " (only bootstrap may use what is not a layer)")
            elif layer == "domain" and ours is None and not _allowed_in_domain(top):
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
        "import time\nfrom channel_parser.adapters.x import y\nimport pymongo\n"
        "from application import z\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake_src)
    assert len(outward_imports("domain")) == 4


def test_only_bootstrap_imports_the_container() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for layer in ("domain", "application", "adapters")
        for path in _layer_files(layer)
        for line, module in _imports(path)
        if module.split(".")[0] == "dependency_injector"
    ]
    assert offenders == []


def test_every_package_folder_is_installed() -> None:
    """pyproject.toml lists the packages by hand (a package-dir mapping cannot be found
    automatically): a new folder left out would be missing from the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    folders = {
        ".".join((PACKAGE, *init.parent.relative_to(SRC).parts))
        for init in SRC.rglob("__init__.py")
    }
    assert listed == folders


def test_the_simulator_is_not_an_adapter() -> None:
    """The Z.AI stand-in implements no port: it lives in channel_parser.simulator."""
    assert list((SRC / "adapters").rglob("*simulator*")) == []
    assert (SRC / "simulator" / "server.py").is_file()
