"""A worker whose behaviour the test picks with its first argument.

ok            print a line (job id, array index) and exit 0
fail CODE     print two lines (stdout and stderr) and exit CODE
fail-index I  exit 1 if this is array child I, else like ok
sleep         print this process's id, then sleep far longer than any test waits
flaky         fail on the first attempt, succeed on later ones (AWS_BATCH_JOB_ATTEMPT)
env           print the environment as one JSON line and exit 0
"""

import json
import os
import sys
import time
from collections.abc import Callable


def ok(_: list[str]) -> int:
    job = os.environ.get("AWS_BATCH_JOB_ID")
    index = os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX")
    sys.stdout.write(f"job {job} index {index} ok\n")
    return 0


def fail(args: list[str]) -> int:
    sys.stdout.write("about to fail\n")
    sys.stderr.write("boom: something broke\n")
    return int(args[0]) if args else 1


def fail_index(args: list[str]) -> int:
    index = os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX")
    if index != args[0]:
        return ok(args)
    sys.stderr.write(f"child {index} fails\n")
    return 1


def sleep(_: list[str]) -> int:
    sys.stdout.write(f"sleeping pid {os.getpid()}\n")
    sys.stdout.flush()
    time.sleep(600)
    return 0


def flaky(_: list[str]) -> int:
    attempt = int(os.environ["AWS_BATCH_JOB_ATTEMPT"])
    sys.stdout.write(f"attempt {attempt}\n")
    return 0 if attempt >= 2 else 7


def env(_: list[str]) -> int:
    sys.stdout.write(json.dumps(dict(os.environ)) + "\n")
    return 0


MODES: dict[str, Callable[[list[str]], int]] = {
    "ok": ok,
    "fail": fail,
    "fail-index": fail_index,
    "sleep": sleep,
    "flaky": flaky,
    "env": env,
}

if __name__ == "__main__":
    sys.exit(MODES[sys.argv[1] if len(sys.argv) > 1 else "ok"](sys.argv[2:]))
