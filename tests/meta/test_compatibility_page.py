"""docs/compatibility.md states the versions the code has, and the tiers `__all__` has."""

from __future__ import annotations

import importlib
from pathlib import Path

import pcr_sdk
from pcr_sdk._private.batch import manifest
from pcr_sdk._private.wire import layout as contract
from pcr_sdk._private.wire import packing

PAGE = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_the_page_names_the_versions_this_release_writes() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert f"format `{packing.MAGIC.decode()}`" in text
    assert f"manifest schema `{manifest.VERSION}`" in text
    assert f"`{packing.INDEXED_MAGIC.decode()}`" in text
    assert f"worker contract `{contract.WORKER_CONTRACT_VERSION}`" in text


def test_the_page_names_every_public_name_of_both_tiers() -> None:
    text = PAGE.read_text(encoding="utf-8").split("## Deprecation policy")[0]
    advanced = importlib.import_module("pcr_sdk.advanced")
    for name in [*pcr_sdk.__all__, *advanced.__all__]:
        if name[0].isupper() and (not name.endswith("Error") or name == "PcrError"):
            assert f"`{name}`" in text, name
