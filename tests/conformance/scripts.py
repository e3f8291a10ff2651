"""Tiny job programs for the conformance suite, run with `python -c` (`Target.script`).

They use the standard library only, except `WAIT_FOR_KEY`, which needs boto3 in the image.
"""

from __future__ import annotations

from typing import Final

EXIT: Final = """
import sys
print("exiting with", sys.argv[1], flush=True)
sys.exit(int(sys.argv[1]))
"""
"""Exit with the code given as the argument."""

ARGS: Final = """
import sys
print(" ".join(sys.argv[1:]), flush=True)
"""
"""Print the arguments on one line."""

ENV: Final = """
import json, os, sys
print(json.dumps({name: os.environ.get(name) for name in sys.argv[1:]}), flush=True)
"""
"""Print the named environment variables as one JSON line."""

SLEEP: Final = """
import time
print("ready", flush=True)
time.sleep(3600)
"""
"""Log `ready`, then sleep far longer than any test."""

ON_SIGTERM: Final = """
import signal, sys, time

def on_term(*_):
    print("got SIGTERM", flush=True)
    if len(sys.argv) > 1:
        sys.exit(int(sys.argv[1]))

signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""
"""Log `ready`; on SIGTERM log `got SIGTERM` and exit with the argument, or go on without one."""

UNTIL_ATTEMPT: Final = """
import os, sys, time
attempt = int(os.environ["AWS_BATCH_JOB_ATTEMPT"])
print("attempt", attempt, flush=True)
print("ready", flush=True)
if attempt >= int(sys.argv[1]):
    sys.exit(0)
time.sleep(3600)
"""
"""Succeed from the attempt given as the argument on; sleep in earlier ones."""

WAIT_FOR_KEY: Final = """
import sys, time
import boto3
s3 = boto3.client("s3")
print("ready", flush=True)
while True:
    try:
        s3.head_object(Bucket=sys.argv[1], Key=sys.argv[2])
        break
    except Exception:
        time.sleep(0.2)
print("released", flush=True)
"""
"""Wait until the S3 object (bucket, key) exists, then succeed (`Target.release`)."""

LINES: Final = """
import sys
for n in range(int(sys.argv[1])):
    print("line", n, flush=True)
    print("noise", n, flush=True)
"""
"""Print `line n` and `noise n` for n below the argument."""

SIGNAL_SELF: Final = """
import os, sys
print("ready", flush=True)
os.kill(os.getpid(), int(sys.argv[1]))
"""
"""Log `ready`, then die of the signal given as the argument (a number)."""

HOLD_MEMORY: Final = """
import sys, time
held = b"x" * (int(sys.argv[1]) * 1024 * 1024)
print("holding", sys.argv[1], "MiB", flush=True)
time.sleep(float(sys.argv[2]))
print("done", flush=True)
"""
"""Hold the given MiB of resident memory for the given seconds, then succeed."""

LEAVE_A_CHILD: Final = """
import subprocess
subprocess.Popen(
    ["sh", "-c", "sleep 1; echo still here"], start_new_session=True
)
print("leaving", flush=True)
"""
"""Start a child in a session of its own that logs `still here` a second later; exit at once."""
