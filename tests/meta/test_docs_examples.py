"""The examples of the pages in docs/ run as written (on the local backend), and the README
links to every page."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.subprocess  # the pages' examples start a LocalBackend and its workers

PAGES = ("as-completed.md", "retry-policies.md", "typed-io.md", "rerun.md")
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
FILE_MARK = re.compile(r"\A# file: (\S+)\n")


def examples(page: str) -> tuple[dict[str, str], list[str]]:
    """The page's files (blocks starting `# file: NAME`) and its scripts, in order."""
    files: dict[str, str] = {}
    scripts: list[str] = []
    for code in BLOCK.findall((ROOT / "docs" / page).read_text(encoding="utf-8")):
        mark = FILE_MARK.match(code)
        if mark:
            files[mark.group(1)] = code
        else:
            scripts.append(code)
    return files, scripts


@pytest.mark.parametrize("page", PAGES)
def test_the_example_of_each_page_runs(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, scripts = examples(page)
    assert files, f"{page} has no worker file"
    assert scripts, f"{page} has no example to run"
    for name, code in files.items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in files:
        monkeypatch.delitem(sys.modules, Path(name).stem, raising=False)
    for i, code in enumerate(scripts):  # the page's own examples, run as a reader would
        exec(compile(code, f"docs/{page} (example {i + 1})", "exec"), {"__name__": "__example__"})
    for name in files:
        sys.modules.pop(Path(name).stem, None)


def test_the_readme_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"(docs/{page})" in readme, page
