"""A moto server in a process of its own, for the crash test.

Starts on a free port of 127.0.0.1, switches AWS Batch to moto's Docker-free backend (every job
finishes inside SubmitJob), prints the port on a line of its own, and runs until its standard
input closes.
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.request

from moto.server import ThreadedMotoServer


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on our stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        request = urllib.request.Request(
            f"http://{host}:{port}/moto-api/config",
            data=json.dumps({"batch": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the test closes our stdin (or dies)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
