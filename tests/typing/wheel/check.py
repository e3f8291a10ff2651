"""`make typecheck-wheel`: a user's type-checked app against a wheel built from this checkout.

1. Copy the checkout (tracked files and new ones git does not ignore) to a temporary
   directory and build a wheel there (so no stale `build/` of the tree leaks into it).
2. Install it as a user would, `pip install "<wheel>[local]" mypy`, into a venv of its own
   (`.venv/wheel-check`). The venv is made anew whenever pyproject.toml changes (then pip
   resolves every dependency from the index, as a user's install does); otherwise it is
   reused and only the wheel is reinstalled, without its dependencies.
3. Run `mypy --strict --disallow-any-expr` on `app.py` from outside the checkout (so only the
   installed wheel is importable), and check what it revealed: `LocalBackend().clients.batch`
   is the typed Batch client and `JobSubmitter.attach` has no `Any` in its signature.

Exits non-zero, saying why, when any of it fails. Prints each step's seconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[3]
APP: Final = Path(__file__).with_name("app.py")
VENV: Final = ROOT / ".venv" / "wheel-check"
STAMP: Final = VENV / "pyproject.sha256"
BATCH_CLIENT: Final = "mypy_boto3_batch.client.BatchClient"
REVEALED: Final = re.compile(r'app\.py:(\d+): note: Revealed type is "(.*)"')


def _run(args: Sequence[str | Path], *, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"typecheck-wheel: {' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _checkout_files() -> list[str]:
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _build_wheel(python: Path, into: Path) -> Path:
    source = into / "source"
    for name in _checkout_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    dist = into / "dist"
    _run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", dist, source])  # fmt: skip
    (wheel,) = dist.glob("pcr_sdk-*.whl")
    return wheel


def _fingerprint() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _venv() -> tuple[Path, bool]:
    """The check's venv and whether it was made now (so needs the dependencies)."""
    python = VENV / "bin" / "python"
    if STAMP.is_file() and STAMP.read_text() == _fingerprint() and python.is_file():
        return python, False
    shutil.rmtree(VENV, ignore_errors=True)
    _run([sys.executable, "-m", "venv", VENV])
    _run([python, "-m", "pip", "install", "--quiet", "setuptools>=77"])  # the build backend
    return python, True


def main() -> None:
    started = time.monotonic()
    python, fresh = _venv()
    made = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pcr-wheel-") as tmp:
        wheel = _build_wheel(python, Path(tmp))
        built = time.monotonic()
        if fresh:  # as a user installs it: the extra and mypy, resolved from the index
            # --no-compile: what is imported compiles when first imported, as anywhere
            _run([python, "-m", "pip", "install", "--quiet", "--no-compile", f"{wheel}[local]",
                  "mypy"])  # fmt: skip
            STAMP.write_text(_fingerprint())
        else:
            _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                  wheel])  # fmt: skip
    installed = time.monotonic()
    app_dir = Path(tempfile.mkdtemp(prefix="pcr-wheel-app-"))
    try:
        shutil.copy2(APP, app_dir / "app.py")
        done = subprocess.run(
            [python, "-m", "mypy", "--strict", "--disallow-any-expr", "--no-error-summary",
             "--cache-dir", VENV / "mypy-cache", "app.py"],
            cwd=app_dir, capture_output=True, text=True, check=False,
            env={**os.environ, "MYPYPATH": ""},
        )  # fmt: skip
    finally:
        shutil.rmtree(app_dir, ignore_errors=True)
    checked = time.monotonic()
    revealed = [m.group(2) for m in REVEALED.finditer(done.stdout)]
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    problems = list(errors)
    if len(revealed) != 2:
        problems.append(f"expected 2 revealed types, got {revealed}")
    else:
        if revealed[0] != BATCH_CLIENT:
            problems.append(f"LocalBackend().clients.batch is {revealed[0]!r}, not {BATCH_CLIENT}")
        if re.search(r"\bAny\b", revealed[1]):
            problems.append(f"JobSubmitter.attach has Any in it: {revealed[1]}")
    if done.returncode not in (0, 1) or (done.returncode == 1 and not errors):
        problems.append(f"mypy exited {done.returncode}: {done.stderr.strip()}")
    if problems:
        sys.exit("typecheck-wheel: " + "\n".join(problems))
    sys.stdout.write(
        f"typecheck-wheel: {wheel.name}[local] in {'a new' if fresh else 'the cached'} venv; "
        f"mypy --strict --disallow-any-expr: clean; clients.batch is {revealed[0]}; "
        f"attach has no Any (venv {made - started:.1f} s, wheel {built - made:.1f} s, "
        f"install {installed - built:.1f} s, mypy {checked - installed:.1f} s)\n"
    )


if __name__ == "__main__":
    main()
