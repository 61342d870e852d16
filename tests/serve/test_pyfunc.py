"""The `mlflow models serve` path gets ingest's image policy and taxonomist's message."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from taxonomist.data.images import ImagePolicy
from taxonomist.serve.live import ServedStack
from taxonomist.stack.pyfunc import ARTIFACT_KEY, StackModel, load_policy, save_policy
from tests.mlflow_server import free_port
from tests.serve.conftest import Registry, png
from tests.serve.test_limits import declaring

MLFLOW = Path(sys.executable).with_name("mlflow")


def rows(*images: bytes) -> pd.DataFrame:
    return pd.DataFrame({"image": [base64.b64encode(i).decode() for i in images]})


@pytest.mark.parametrize(("bad", "message"), [
    (declaring(10_000, 10_000), "row 1: the header declares 10000x10000 (100,000,000 pixels)"),
    (png(fmt="GIF"), "row 1: a GIF image; accepted formats are JPEG, PNG, WEBP"),
    (b"not an image", "row 1: not a base64-encoded image"),
], ids=["bomb", "format", "not-an-image"])
def test_a_refused_row_is_named_with_the_reason(served: ServedStack, bad: bytes,
                                                message: str) -> None:
    with pytest.raises(MlflowException, match=re.escape(message)) as caught:
        served.model.predict(None, rows(png(), bad))
    assert caught.value.get_http_status_code() == 400
    assert "Traceback" not in caught.value.serialize_as_json()


def test_good_rows_are_still_predicted(served: ServedStack) -> None:
    out = served.model.predict(None, rows(png(), png(color="black")))
    assert list(out.columns) == ["label", "path", "probabilities", "box", "detect_score"]
    assert len(out) == 2 and out["box"].isna().all()  # no detector: nothing found, no crop


def test_the_stack_keeps_the_project_s_image_policy(registry: Registry,
                                                    served: ServedStack) -> None:
    assert load_policy(served.model.folder) == ImagePolicy.from_config(
        registry.config.project.data)


def test_a_stack_saved_with_a_narrower_policy_serves_by_it(served: ServedStack,
                                                           tmp_path: Path) -> None:
    folder = shutil.copytree(served.model.folder, tmp_path / "stack")
    save_policy(folder, ImagePolicy(formats=("PNG",), max_pixels=64 * 64))
    model = StackModel()
    model.load_context(SimpleNamespace(artifacts={ARTIFACT_KEY: str(folder)}))
    with pytest.raises(MlflowException, match=re.escape(
            "row 0: a JPEG image; accepted formats are PNG")):
        model.predict(None, rows(png(fmt="JPEG")))
    with pytest.raises(MlflowException, match=re.escape("row 0: the header declares 65x64")):
        model.predict(None, rows(png(size=(65, 64))))
    assert len(model.predict(None, rows(png()))) == 1


@pytest.mark.slow
def test_mlflow_models_serve_refuses_a_bomb_without_a_trace(registry: Registry,
                                                            tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry.config.project.mlflow.tracking_uri,
           "PATH": f"{MLFLOW.parent}{os.pathsep}{os.environ['PATH']}"}  # its uvicorn
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [str(MLFLOW), "models", "serve", "-m", f"models:/{registry.name}@live",
             "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{url}/ping", server, tmp_path / "serve.log")
        body = {"dataframe_records": [{"image": base64.b64encode(png()).decode()},
                                      {"image": base64.b64encode(declaring(10_000, 10_000))
                                       .decode()}]}
        reply = httpx.post(f"{url}/invocations", json=body, timeout=60)
        assert reply.status_code == 400, reply.text
        assert "row 1: the header declares 10000x10000" in reply.json()["message"]
        assert "Traceback" not in reply.text and "stack_trace" not in reply.text
        assert len(reply.text) < 1500, reply.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow models serve did not come up:\n{log.read_text()[-3000:]}")
