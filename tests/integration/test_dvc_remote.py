"""A DVC remote on S3 (moto's server on 127.0.0.1): push data/, pull it back, and pull it
into a fresh clone, the way a second machine reproduces the pipeline from git + remote."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
BUCKET, REMOTE = "dvc-remote", "s3://dvc-remote/taxonomist"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client(url).create_bucket(Bucket=BUCKET)  # DVC does not create the bucket
    yield url
    server.stop()


def client(url: str):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")


def run(cmd: list[str], cwd: Path, home: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),  # no user-level git or AWS config leaks in
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("AWS_PROFILE", None)
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{cmd} failed:\n{tail}"
    return result.stdout


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_data(data: Path) -> None:
    """A stand-in for what ingest writes: content-addressed images and a manifest."""
    for seed in range(3):
        pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), np.uint8)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "PNG")
        (data / "images" / f"0{seed}").mkdir(parents=True)
        (data / "images" / f"0{seed}" / f"0{seed}.png").write_bytes(out.getvalue())
    (data / "manifest.csv").write_text("id,label\n00,circle\n01,oval\n02,square\n")


def test_push_to_an_s3_remote_and_pull_on_another_machine(endpoint: str, tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"],
                ["dvc", "config", "core.analytics", "false"],
                ["dvc", "config", "core.check_update", "false"]):
        run(cmd, repo, home)
    write_data(repo / "data")
    original = files(repo / "data")
    run(["dvc", "add", "data"], repo, home)
    run(["dvc", "remote", "add", "-d", "s3remote", REMOTE], repo, home)
    run(["dvc", "remote", "modify", "s3remote", "endpointurl", endpoint], repo, home)
    run(["git", "add", "-A"], repo, home)
    run(["git", "commit", "-qm", "data on an S3 remote"], repo, home)

    run(["dvc", "push"], repo, home)

    listed = client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix="taxonomist/")
    assert len(listed.get("Contents", [])) >= len(original), "every file is in the bucket"

    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    run(["dvc", "pull"], repo, home)
    assert files(repo / "data") == original

    clone = tmp_path / "second-machine"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, home)
    assert not (clone / "data").exists(), "git holds data.dvc, not the data"
    run(["dvc", "pull"], clone, home)
    assert files(clone / "data") == original
