"""Every code block of README.md and docs/*.md runs (or, where it needs AWS, is checked).

How a page's blocks are treated (the rules a page's author follows):

- A ```` ```python ```` block runs, in order, in one namespace per page, in a temporary
  directory that holds the page's files. A block whose first line is ``# file: NAME`` is such a
  file (a worker, a module the next blocks import), written there instead of run. After the
  page's blocks ran, every ``test_*`` function they defined without parameters is called (one
  that takes pytest fixtures is only defined).
- ``<!-- setup: CODE -->`` (or the same over several lines) right before a block runs CODE first,
  unseen by the reader: the inputs a fragment leaves to its reader, say.
- ``<!-- needs-aws -->`` right before a block marks it as needing a real AWS account: a Python
  block then only compiles and runs its import statements (a renamed public name still fails);
  a console block's `pcr` commands are only parsed by the `pcr` command itself (a renamed
  command or option still fails).
- ``<!-- runs-elsewhere: tests/FILE.py -->`` right before a console block says that test file
  runs its commands (a server in the foreground, say): here they are only parsed, and the file
  must exist.
- A ```` ```console ```` (or sh, bash, shell) block with a `pcr` command and no such mark runs,
  from the repository root, as ``python -m pcr_sdk.cli ...``: it must exit 0, and when its
  command line starts with ``$ `` the lines below it are its stdout (in any order: `--stream`
  prints in finishing order).

The pages `tests/meta/test_docs_examples.py` already runs as a whole are left to it here, apart from
their console blocks.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.meta.test_docs_examples import PAGES as RUN_ELSEWHERE

# the pages run on MotoWorld and LocalBackend, their pcr commands as processes
pytestmark = [pytest.mark.integration, pytest.mark.subprocess]
ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
MARK = re.compile(r"<!--\s*(?P<kind>needs-aws|setup:|runs-elsewhere:)(?P<body>.*?)-->", re.DOTALL)
FILE_MARK = re.compile(r"\A# file: (\S+)\n")
SHELL = frozenset({"console", "sh", "bash", "shell"})
STOP_TOKENS = frozenset({">", ">>", "|", "&&", "||", ";", "2>", "&"})


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page, with the mark (if any) right before it."""

    page: str
    line: int  # of the first code line, 1-based
    lang: str
    code: str
    needs_aws: bool
    setup: str
    elsewhere: str = ""  # the test file that runs this block's commands


def pages() -> list[str]:
    """README.md and every page of the site, relative to the repository root."""
    found = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    return ["README.md", *found]


def blocks(page: str) -> list[Block]:
    """The fenced blocks of `page`, in order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None or not fence.group("lang"):
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = "\n".join(lines[max(0, i - 12) : i]).rstrip()
        marks = [m for m in MARK.finditer(before) if not before[m.end() :].strip()]
        mark = marks[-1] if marks else None
        kind, body = (mark.group("kind"), mark.group("body").strip()) if mark else ("", "")
        found.append(
            Block(
                page=page,
                line=i + 2,
                lang=fence.group("lang"),
                code="\n".join(lines[i + 1 : end]) + "\n",
                needs_aws=kind == "needs-aws",
                setup=body if kind == "setup:" else "",
                elsewhere=body if kind == "runs-elsewhere:" else "",
            )
        )
        i = end + 1
    return found


def imports_only(code: str) -> ast.Module:
    """The import statements of `code`, at any depth (a name that moved still fails)."""
    nodes = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Import | ast.ImportFrom)]
    return ast.Module(body=list(nodes), type_ignores=[])


def run_python(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the page's Python blocks as the module docstring says."""
    python = [b for b in blocks(page) if b.lang == "python"]
    files = {m.group(1): b for b in python if (m := FILE_MARK.match(b.code))}
    for name, block in files.items():
        (tmp_path / name).write_text(block.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in files:
        monkeypatch.delitem(sys.modules, Path(name).stem, raising=False)
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    try:
        for block in python:
            where = f"{page}:{block.line}"
            if FILE_MARK.match(block.code):
                compile(block.code, where, "exec")
            elif block.needs_aws:
                exec(compile(imports_only(block.code), where, "exec"), dict(namespace))
            else:
                if block.setup:
                    exec(compile(block.setup, f"{where} (setup)", "exec"), namespace)
                exec(compile(block.code, where, "exec"), namespace)
        for name, value in list(namespace.items()):
            runnable = inspect.isfunction(value) and not inspect.signature(value).parameters
            if name.startswith("test_") and runnable:  # one taking fixtures is only defined
                value()
    finally:
        for name in files:
            sys.modules.pop(Path(name).stem, None)


@pytest.mark.parametrize("page", [p for p in pages() if Path(p).name not in RUN_ELSEWHERE])
def test_the_python_blocks_of_each_page_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_python(page, tmp_path, monkeypatch)


# -- console blocks ----------------------------------------------------------------------------


def commands(code: str) -> list[list[str]]:
    """Each `pcr` command line of a shell block, as arguments after `pcr` (redirects dropped)."""
    found: list[list[str]] = []
    for line in code.replace("\\\n", " ").splitlines():
        text = line.removeprefix("$ ").strip()
        if "pcr" not in text:
            continue
        try:
            tokens = shlex.split(text, comments=True)
        except ValueError:  # an output line, not a command
            continue
        current: list[str] | None = None
        at_start = True  # where a command can begin: first, after `|` or `;`, or after `pcr ...`
        for token in tokens:
            is_pcr = token == "pcr" or token.endswith("/pcr")
            starts = at_start or current is not None
            at_start = token in STOP_TOKENS
            if is_pcr and starts:
                current = []
                found.append(current)
            elif current is not None and token in STOP_TOKENS:
                current = None
            elif current is not None:
                current.append(token)
    return found


def parse(args: list[str]) -> None:
    """Parse `pcr ARGS` as the `pcr` command would, without running it (UsageError if wrong)."""
    import typer.main

    from pcr_sdk.cli._app import app

    command: Any = typer.main.get_command(app)
    ctx = command.make_context("pcr", [], resilient_parsing=True)
    path = ["pcr"]
    while hasattr(command, "commands") and args and args[0] in command.commands:
        path.append(args[0])
        command = command.commands[args[0]]
        args = args[1:]
        if hasattr(command, "commands"):
            ctx = command.make_context(path[-1], [], parent=ctx, resilient_parsing=True)
    assert len(path) > 1, f"pcr {' '.join(args)}: no such command"
    command.make_context(path[-1], list(args), parent=ctx)


def shell_blocks() -> list[Block]:
    """Every shell block (of any page) with a `pcr` command in it."""
    return [b for p in pages() for b in blocks(p) if b.lang in SHELL and commands(b.code)]


@pytest.mark.parametrize("block", shell_blocks(), ids=lambda b: f"{b.page}:{b.line}")
def test_each_pcr_command_of_the_docs_parses(block: Block) -> None:
    for args in commands(block.code):
        with_values = [os.path.expandvars(a) for a in args]
        parse(with_values)


@pytest.mark.parametrize(
    "block",
    [b for b in shell_blocks() if not (b.needs_aws or b.elsewhere)],
    ids=lambda b: f"{b.page}:{b.line}",
)
def test_each_local_pcr_command_of_the_docs_runs(block: Block) -> None:
    lines = block.code.splitlines()
    found = commands(block.code)
    for args in found:
        returncode, stdout, stderr = run_pcr(tuple(args))
        assert returncode == 0, f"pcr {shlex.join(args)}: {stderr}"
        if len(found) == 1 and lines[0].startswith("$ "):  # the lines below are its stdout
            assert sorted(stdout.splitlines()) == sorted(lines[1:])


@functools.cache
def run_pcr(args: tuple[str, ...]) -> tuple[int, str, str]:
    """Run `pcr ARGS` from the repository root, once per distinct command line."""
    env = {**os.environ, "PCR_REGION": "", "PCR_QUEUE": "", "PCR_BUCKET": "", "PCR_IMAGE": ""}
    done = subprocess.run(
        [sys.executable, "-m", "pcr_sdk.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    return done.returncode, done.stdout, done.stderr


def test_the_collector_sees_the_marks() -> None:
    """A guard on the rules above: the pages have blocks of each kind, and marks are seen."""
    every = [b for p in pages() for b in blocks(p)]
    assert any(b.needs_aws and b.lang == "python" for b in every)
    assert any(FILE_MARK.match(b.code) for b in every)
    assert any(b.lang in SHELL and not b.needs_aws and commands(b.code) for b in every)
    assert any(b.lang in SHELL and b.needs_aws and commands(b.code) for b in every)


def test_blocks_run_elsewhere_name_a_test_file() -> None:
    elsewhere = [b for p in pages() for b in blocks(p) if b.elsewhere]
    assert elsewhere, "no page marks a block runs-elsewhere"
    for block in elsewhere:
        path = ROOT / block.elsewhere
        assert path.is_file(), (block.page, block.elsewhere)
        assert path.name.startswith("test_"), (block.page, block.elsewhere)
