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


def test_the_cli_page_in_the_repository_is_complete_and_up_to_date(
    hooks: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md holds the reference itself (not only the built site): `make cli-docs`."""
    monkeypatch.setenv("COLUMNS", "37")  # a narrow terminal changes nothing
    monkeypatch.setenv("PCR_QUEUE", "from-the-environment")  # nor does the environment
    page = hooks.CLI_PAGE.read_text(encoding="utf-8")
    assert page == hooks.cli_page(page), "docs/cli.md is out of date: run make cli-docs"
    assert "## `pcr retry`" in page
    assert "from-the-environment" not in page


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


API_PAGES = Path(__file__).resolve().parents[2] / "docs" / "api"


@pytest.mark.parametrize("page", sorted(p.name for p in API_PAGES.glob("*.md")))
def test_each_api_page_lists_its_modules_names_once(hooks: ModuleType, page: str) -> None:
    text = hooks.on_page_markdown((API_PAGES / page).read_text(encoding="utf-8"))
    entries = [line.removeprefix("::: ") for line in text.splitlines() if line.startswith(":::")]
    (module,) = {entry.rsplit(".", 1)[0] for entry in entries}
    names = [n for n in importlib.import_module(module).__all__ if n != "__version__"]
    assert sorted(entries) == sorted(f"{module}.{name}" for name in names)


def test_the_api_page_leads_with_the_facade_the_worker_and_the_errors(hooks: ModuleType) -> None:
    text = hooks.on_page_markdown((API_PAGES / "pcr_sdk.md").read_text(encoding="utf-8"))
    entries = [line.removeprefix(":::pcr_sdk.") for line in text.replace(" ", "").splitlines()
               if line.startswith(":::")]  # fmt: skip
    assert entries[0] == "JobSubmitter"
    assert (
        text.index("::: pcr_sdk.JobSubmitter")
        < text.index("pcr_sdk.worker")
        < text.index("::: pcr_sdk.PcrError")
    )
    errors = [n for n in entries if n.endswith("Error")]
    assert entries[1 : 1 + len(errors)] == errors  # the errors come right after the facade
    assert errors[0] == "PcrError"


def test_the_readmes_python_needs_nothing_hidden() -> None:
    """Pasting the README's visible code works: no block depends on a hidden setup comment."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "<!-- setup:" not in readme
