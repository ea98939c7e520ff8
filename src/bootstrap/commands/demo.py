"""``channel-parser demo``: the main job on the embedded default."""

from __future__ import annotations

from bootstrap.app import app, fail


@app.command()
def demo() -> None:
    """Run the main job on the embedded default (being built: see the README)."""
    fail(
        "the demo is not built yet (it arrives with the service work); "
        "run ./scripts/test meanwhile"
    )
