"""docs/compatibility.md states the versions the code has, and the tiers `__all__` has."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pcr_sdk
from pcr_sdk._private.batch import manifest
from pcr_sdk._private.wire import layout as contract
from pcr_sdk._private.wire import packing

PAGE = Path(__file__).resolve().parents[1] / "docs" / "compatibility.md"


def test_the_page_names_the_versions_this_release_writes() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert f"format `{packing.MAGIC.decode()}`" in text
    assert f"manifest schema `{manifest.VERSION}`" in text
    assert f"`{packing.INDEXED_MAGIC.decode()}`" in text
    assert f"worker contract `{contract.WORKER_CONTRACT_VERSION}`" in text


def test_the_page_names_every_second_tier_name_and_its_deprecation() -> None:
    text = PAGE.read_text(encoding="utf-8")
    advanced = importlib.import_module("pcr_sdk.advanced")
    (row,) = [line for line in text.splitlines() if "from `pcr_sdk`" in line and "|" in line]
    deprecated = set(advanced.__all__) - set(pcr_sdk.__all__)
    assert set(re.findall(r"`(\w+)`", row)) - {"pcr_sdk"} == deprecated
    for name in advanced.__all__:
        assert f"`{name}`" in text.split("## Deprecation policy")[0], name
