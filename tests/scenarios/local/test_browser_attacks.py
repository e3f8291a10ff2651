"""A web page from another origin attacks the local backend in a real headless Chromium.

The page (served from another port, as any site or local tool could be) tries what worked
before the backend checked anything: a form that uploads an HTML page into the bucket, no-cors
`fetch` calls that register a job definition and submit a job (text/plain, a credential scope
in the query), a CORS read of ListJobs, and loading a bucket object. The browser reaches the
server (its answers are seen: 403s), and the server ends with no job definition, no job and no
object. Skipped without Chromium or Playwright, failed under CI.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pytest

from pcr_sdk.local import LocalBackend
from tests.support.browser import CHROMIUM, FLAGS, _unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Response

pytestmark = pytest.mark.browser

SCOPE: Final = "X-Amz-Credential=a/20260101/us-east-1/batch/aws4_request"
ATTACK: Final = """<!doctype html>
<html><body>
<form id="upload" method="POST" action="{endpoint}/{bucket}" enctype="multipart/form-data">
  <input name="key" value="evil.html">
  <input name="Content-Type" value="text/html">
  <textarea name="file"><script>fetch("/v1/submitjob")</script></textarea>
</form>
<img src="{endpoint}/{bucket}/evil.html">
<script>
const endpoint = "{endpoint}";
const definition = JSON.stringify({{
  jobDefinitionName: "evil", type: "container",
  containerProperties: {{image: "other", vcpus: 1, memory: 256, command: ["touch", "{touched}"]}},
}});
const submit = JSON.stringify({{jobName: "evil", jobQueue: "{queue}", jobDefinition: "evil"}});
async function attack() {{
  const calls = [
    fetch(endpoint + "/v1/registerjobdefinition?{scope}", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: definition}}),
    fetch(endpoint + "/v1/submitjob?{scope}", {{method: "POST", mode: "no-cors",
      headers: {{"Content-Type": "text/plain"}}, body: submit}}),
    fetch(endpoint + "/v1/listjobs?{scope}", {{method: "POST",
      body: JSON.stringify({{jobQueue: "{queue}"}})}}),
    fetch(endpoint + "/{bucket}/evil.html", {{method: "PUT", mode: "no-cors",
      body: "<b onmouseover=alert(1)>evil</b>"}}),
  ];
  const results = await Promise.allSettled(calls);
  document.title = "attacked " + results.map(r => r.status).join(",");
  document.getElementById("upload").submit();
}}
attack();
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not (CHROMIUM.is_file()):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def attacker_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static web server on another port: the attacker's origin."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_from_another_origin_creates_no_job_and_no_object(
    chromium: object, attacker_site: tuple[Path, str], tmp_path: Path
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    site_dir, site = attacker_site
    touched = tmp_path / "touched"
    with LocalBackend(vcpus=1, memory_mib=1024) as backend:
        endpoint = backend.endpoint_url
        (site_dir / "attack.html").write_text(
            ATTACK.format(
                endpoint=endpoint,
                bucket=backend.bucket,
                queue=backend.queue,
                touched=touched,
                scope=SCOPE,
            )
        )
        page = chromium.new_page()
        answers: list[tuple[str, int]] = []

        def seen(response: Response) -> None:
            if urlsplit(response.url).netloc == urlsplit(endpoint).netloc:
                answers.append((response.request.method, response.status))

        page.on("response", seen)
        page.goto(f"{site}/attack.html", wait_until="load")
        # the fetches settle, then the form navigates to the backend's answer
        page.wait_for_url(lambda url: url.startswith(endpoint), timeout=15_000)
        page.wait_for_load_state("load")
        page.close()

        clients = backend.clients
        definitions = clients.batch.describe_job_definitions()["jobDefinitions"]
        jobs = [
            job
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "RUNNING", "SUCCEEDED", "FAILED")
            for job in clients.batch.list_jobs(jobQueue=backend.queue, jobStatus=status)[
                "jobSummaryList"
            ]
        ]
        objects = clients.s3.list_objects_v2(Bucket=backend.bucket).get("Contents", [])

    assert answers, "the page never reached the backend: the test proves nothing"
    assert {status for _, status in answers} <= {400, 403}
    assert ("POST", 403) in answers
    assert definitions == []
    assert jobs == []
    assert objects == []
    assert not touched.exists()
