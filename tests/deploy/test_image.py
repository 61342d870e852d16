"""The container's exact command, on 127.0.0.1, against a real registry (Docker cannot run
here): ENTRYPOINT + CMD, ENV, WORKDIR contents and HEALTHCHECK all read from the
Dockerfile; only what `docker run -e` would set is added, and the image's venv is this
one. Two workers, so /metrics must be the server's, not one worker's.

The API keys come as the recipes pass them, a keys file mounted from a secret: predict and
/metrics answer only a key allowed them, /health (Docker's HEALTHCHECK) answers anyone,
and no key reaches the log, an answer, the metrics or any file the server wrote. The
server writes nothing outside its TMPDIR (the container's root filesystem is read-only)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from taxonomist.serve.auth import NewKey, make_key
from tests.conftest import REPO
from tests.deploy.dockerfile import Image, read_image
from tests.mlflow_server import free_port
from tests.secrets_scan import leaks
from tests.serve.conftest import png
from tests.serve.running import STARTUP_S, wait_for_health
from tests.serve.stacks import make_registry

WORKERS, REQUESTS = 2, 12
SWAPS = "taxonomist_model_swaps_total"
OK = 'taxonomist_http_requests_total{method="POST",route="/v1/predict",status="200"}'


def container_env(image: Image, tracking_uri: str, port: int, keys_file: Path,
                  tmp: Path) -> dict[str, str]:
    """The image's ENV, then `docker run -e` for the registry, the address, workers and
    the mounted keys file; its writable /tmp is ``tmp``."""
    return {**os.environ, **image.env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLFLOW_TRACKING_URI": tracking_uri,
            "TAXONOMIST_SERVE_HOST": "127.0.0.1",  # where the container would bind 0.0.0.0
            "TAXONOMIST_SERVE_PORT": str(port),
            "TAXONOMIST_SERVE_WORKERS": str(WORKERS),
            "TAXONOMIST_SERVE_KEYS_FILE": str(keys_file),
            "TMPDIR": str(tmp), "MPLCONFIGDIR": str(tmp / "matplotlib")}


def mounted_keys(folder: Path) -> tuple[dict[str, NewKey], Path]:
    """A client's key and Prometheus', and the keys file holding their hashes."""
    made = {"client": make_key("client", ["predict"]),
            "scraper": make_key("scraper", ["metrics"])}
    folder.mkdir()
    keys_file = folder / "keys.yaml"
    keys_file.write_text("".join(key.entry for key in made.values()))
    return made, keys_file


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def workdir(image: Image, root: Path) -> Path:
    """What the image's COPY lines put in its WORKDIR (``conf/``, unmodified)."""
    for source, target in image.copies:
        shutil.copytree(REPO / source, root / target)
    return root


def metric(text: str, sample: str) -> float | None:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    return None if found is None else float(found.group(1))


def wait_for_every_worker(url: str, headers: dict[str, str]) -> None:
    """Until /metrics counts a stack loaded by each worker (bounded; the asserts decide)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if metric(httpx.get(f"{url}/metrics", headers=headers).text, SWAPS) == WORKERS:
            return
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_images_command_serves_the_live_stack(tmp_path: Path) -> None:
    image = read_image(REPO / "Dockerfile")
    registry = make_registry(tmp_path / "registry", seeds=(1,))
    made, keys_file = mounted_keys(tmp_path / "secrets")
    client, scraper = ({"Authorization": f"Bearer {made[n].key}"} for n in made)
    port, tmp = free_port(), tmp_path / "tmp"
    tmp.mkdir()
    url = f"http://127.0.0.1:{port}"
    env = container_env(image, registry.config.project.mlflow.tracking_uri, port, keys_file,
                        tmp)
    app = workdir(image, tmp_path / "app")
    before = files_under(app)
    log = tmp_path / "container.log"
    with log.open("wb") as out:
        server = subprocess.Popen(image.command, cwd=app,  # its user's HOME is its WORKDIR
                                  env=env | {"HOME": str(app)},
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        health = wait_for_health(url, server, log, lambda h: h.get("status") == "ok")
        wait_for_every_worker(url, scraper)
        docker_health = subprocess.run(image.healthcheck, env=env, timeout=30)
        replies = [httpx.post(f"{url}/v1/predict", content=png(),
                              headers={"Content-Type": "image/png"} | client)
                   for _ in range(REQUESTS)]
        refusals = [httpx.post(f"{url}/v1/predict", content=png(),
                               headers={"Content-Type": "image/png"} | sent)
                    for sent in ({}, scraper, {"Authorization": "Bearer txk_not-a-key"})]
        scrapes = [httpx.get(f"{url}/metrics", headers=scraper).text for _ in range(4)]
        anonymous_scrape = httpx.get(f"{url}/metrics")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert health["status"] == "ok" and health["version"] == registry.versions[0]
    assert docker_health.returncode == 0  # the HEALTHCHECK Docker would run, with no key
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    assert {r.json()["stack"]["version"] for r in replies} == {registry.versions[0]}
    assert [r.status_code for r in refusals] == [401, 403, 401], [r.text for r in refusals]
    assert anonymous_scrape.status_code == 401
    for text in scrapes:  # any worker answers for all of them
        assert metric(text, SWAPS) == WORKERS, text  # each worker loaded the stack once
        assert metric(text, OK) == REQUESTS, text
    assert files_under(app) == before  # nothing written where the root is read-only
    secrets = {name: key.key for name, key in made.items()}
    seen = [log.read_bytes(), *(r.content for r in replies + refusals),
            *(text.encode() for text in scrapes), *files_under(tmp).values(),
            *files_under(registry.root).values()]
    assert [leaks(data, secrets) for data in seen if leaks(data, secrets)] == []
