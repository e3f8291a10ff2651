"""The `pcr` command: run, submit and inspect batches; `pcr demo` shows a real one locally.

This package stays light on import (the demo's job processes import `pcr_sdk.cli._demo_worker`
through it); typer, rich and the commands are loaded only when `main` runs.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the `pcr` console script."""
    from pcr_sdk.cli._app import main as run_app  # noqa: PLC0415 - keep the package import light

    run_app()
