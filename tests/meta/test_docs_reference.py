"""The generated pages of the site (docs/_gen/hooks.py) cover what they claim to cover.

`make docs` runs the same generators inside `mkdocs build --strict`; these checks keep a plain
`pytest` run honest too, in milliseconds.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pcr_sdk
from pcr_sdk._private.wire import facts
from tests.meta.test_docstrings import DOCUMENTED

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "_gen" / "hooks.py"


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pcr_docs_hooks", HOOKS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_limit_of_the_aws_module_is_described(hooks: ModuleType) -> None:
    described = hooks.LIMITS.keys() | hooks.PACED.keys()
    assert hooks.limit_names() <= described
    assert described <= set(vars(facts))  # no row for a constant that is gone
    table = hooks.limits_table()
    assert f"| {facts.MAX_ARRAY_SIZE:,} |" in table


def test_every_error_class_is_in_the_tree(hooks: ModuleType) -> None:
    tree = hooks.error_tree()
    errors = [
        name
        for name in pcr_sdk.__all__
        if inspect.isclass(value := getattr(pcr_sdk, name)) and issubclass(value, BaseException)
    ]
    assert errors
    for name in errors:
        assert f"**`{name}`**" in tree, name


def test_the_cli_reference_has_every_command(hooks: ModuleType) -> None:
    import typer.main

    from pcr_sdk.cli._app import app

    text = hooks.cli_reference()
    root = typer.main.get_command(app)
    for name in getattr(root, "commands", {}):
        assert f"## `pcr {name}`" in text, name
    assert "--stream" in text


def test_the_api_pages_list_every_public_name(hooks: ModuleType) -> None:
    for module in DOCUMENTED:
        text = hooks.api_reference(module)
        for name in importlib.import_module(module).__all__:
            if name != "__version__":
                assert f"::: {module}.{name}\n" in f"{text}\n", (module, name)


def test_the_local_checks_page_lists_every_check_of_the_engine(hooks: ModuleType) -> None:
    from pcr_sdk.local._refusals import CHECKS

    table = hooks.checks_table()
    for name, check in CHECKS.items():
        assert f"| `{name}` |" in table, name
        if check.source is not None:
            assert check.source in table, name
    page = HOOKS.parent.parent / "local-checks.md"
    assert "<!-- gen:checks -->" in page.read_text(encoding="utf-8")
