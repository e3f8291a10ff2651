"""Holds a LocalBackend whose one job starts processes that try to escape, then waits.

argv: <pid file>. The job (`ESCAPER`) logs "<job> <child> <setsid child> <daemon>": a child in
its session, a child in a session of its own, and a daemon (double fork, new session, empty
environment, its parent gone at once). This script writes that line to the pid file once it
appears; the test SIGKILLs this process and checks that none of the pids survives.
"""

import sys
from pathlib import Path

ESCAPER = """
import os, subprocess, sys, time
child = subprocess.Popen(["sleep", "600"])
session = subprocess.Popen(["sleep", "601"], start_new_session=True)
read, write = os.pipe()
subprocess.run(
    ["/bin/sh", "-c", f"setsid sleep 602 </dev/null >/dev/null 2>&1 & echo $! >&{write}"],
    pass_fds=(write,), env={"PATH": os.environ["PATH"]}, check=True,
)
os.close(write)
daemon = int(os.read(read, 64))
print(os.getpid(), child.pid, session.pid, daemon, flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)
"""
"""A job whose processes try to outlive it; argv[1]: how long it sleeps before exiting."""

if __name__ == "__main__":
    from tests.support.workers.local_holder import hold

    hold(Path(sys.argv[1]), [sys.executable, "-c", ESCAPER])
