"""A batch through a real Label Studio and back: the export ``label import`` reads is the
one Label Studio itself writes, not one our tests make.

    python -m bench.label_studio                  # Label Studio in /tmp/ls-venv
    python -m bench.label_studio --venv DIR --images 20

In one run: Label Studio is installed with pip into its own virtual environment (once;
``--venv``), started on 127.0.0.1 with an admin whose API token is set, and then, over
its HTTP API: a project is created from the batch's ``label_studio_config.xml``, the
batch's ``label_studio_tasks.json`` imported, a second user created, every task
annotated by both users (the first gives each image its recorded label, the second
every third one wrong), and the project exported as JSON. That export is imported by
:func:`taxonomist.labels.crowd.import_answers`, what ``taxonomist label import``
runs. The batch is ``--images`` images of a small project of ``bench/ingest.py``'s car
images, at the root (its classes: every model).

Writes ``bench/results/label_studio.json`` (table ``round_trip``). A bench, not a test:
installing and starting Label Studio takes minutes.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

from bench.ingest import TAXONOMY
from bench.label import ingested_project
from bench.record import BenchRun, Figure, Table, add_results_option
from taxonomist.config import Aggregation, Paths
from taxonomist.data import FolderSource
from taxonomist.labels.batch import Batch, Pick, export_batch
from taxonomist.labels.crowd import import_answers

ADMIN, ANNOTATOR = "admin@taxonomist.test", "second@taxonomist.test"
TOKEN = "taxonomist-bench-token"  # the admin's legacy API token, set at start
PORT = 8765
PROJECT_IMAGES = 600  # the fewest bench/ingest.py's car project is drawn with
START_TIMEOUT_S = 600  # its first start runs every database migration


def installed(venv: Path) -> Path:
    """The ``label-studio`` command of ``venv``, pip-installing it there if need be."""
    command = venv / "bin" / "label-studio"
    if not command.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        # label-studio asks for sentry-sdk>=2.16 only, and does not start with 3.x (an
        # option 3.0 removed); measured with label-studio 1.23.2
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "label-studio",
                        "sentry-sdk>=2.16,<3"], check=True)
    return command


def started(command: Path, data: Path, log: Path) -> subprocess.Popen:
    """Label Studio on 127.0.0.1:PORT, answering its health check."""
    env = {**os.environ, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "DJANGO_DB": "sqlite", "LABEL_STUDIO_BASE_DATA_DIR": str(data)}
    server = subprocess.Popen(
        [str(command), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p",
         str(PORT), "--data-dir", str(data), "--username", ADMIN, "--password",
         "bench-password", "--user-token", TOKEN, "--enable-legacy-api-token"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"label-studio exited ({server.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=5):
                return server
        except OSError:
            time.sleep(2)
    server.terminate()
    sys.exit(f"label-studio did not answer within {START_TIMEOUT_S} s; see {log}")


def api(method: str, path: str, token: str, body: object = None) -> object:
    """One call to Label Studio's API; its JSON answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        text = response.read()
    return json.loads(text) if text else None


def user_token(command: Path, data: Path, email: str) -> str:
    """A user's API token, as ``label-studio user`` prints it."""
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data)}
    out = subprocess.run([str(command), "user", "--username", email, "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, check=True).stdout
    info = ast.literal_eval(out.split("=> User info:", 1)[1].strip().splitlines()[0])
    return str(info["token"])


def annotate(project: int, truth: dict[str, str], classes: tuple[str, ...],
             tokens: list[str]) -> int:
    """Every task answered once by each user: the first right, the next right but on
    every third task; how many annotations were made."""
    listed = api("GET", f"/api/tasks?project={project}&page_size=10000", tokens[0])
    tasks = listed["tasks"] if isinstance(listed, dict) else listed
    made = 0
    for number, task in enumerate(tasks):
        right = truth[task["data"]["task_id"]]
        for user, token in enumerate(tokens):
            wrong = user > 0 and number % 3 == 0
            said = next(c for c in classes if c != right) if wrong else right
            api("POST", f"/api/tasks/{task['id']}/annotations", token, {"result": [
                {"from_name": "label", "to_name": "image", "type": "choices",
                 "value": {"choices": [said]}}]})
            made += 1
    return made


def round_trip(command: Path, work: Path, images: int) -> dict[str, object]:
    """The batch out to Label Studio, annotated, exported, and imported back."""
    paths = ingested_project(PROJECT_IMAGES, work)
    batch = one_batch(paths, images)
    folder = paths.label_batches / batch.batch
    server = started(command, work / "label-studio", work / "label-studio.log")
    try:
        made = api("POST", "/api/projects", TOKEN, {
            "title": batch.batch, "label_config": (folder / "label_studio_config.xml")
            .read_text()})
        project = int(made["id"])
        tasks = json.loads((folder / "label_studio_tasks.json").read_text())
        api("POST", f"/api/projects/{project}/import", TOKEN, tasks)
        api("POST", "/api/users", TOKEN, {"email": ANNOTATOR, "username": "second"})
        tokens = [TOKEN, user_token(command, work / "label-studio", ANNOTATOR)]
        truth = batch.tasks(paths.label_batches).set_index("task_id")["label"].to_dict()
        annotations = annotate(project, truth, batch.classes, tokens)
        export = work / "export.json"
        export.write_text(json.dumps(api("GET", f"/api/projects/{project}/export"
                                                "?exportType=JSON", TOKEN)))
        version = api("GET", "/api/version", TOKEN)
    finally:
        server.terminate()
        server.wait(timeout=60)
    imported = import_answers(export, paths, Aggregation.one_coin_dawid_skene)
    return {"version": _version_of(version), "tasks": len(tasks), "annotations": annotations,
            "answers": imported.answers, "images": imported.images,
            "workers": len(imported.workers), "unanimous": imported.unanimous}


def one_batch(paths: Paths, images: int) -> Batch:
    """A batch of ``images`` of the project at random, at the root, with folder links."""
    return export_batch(pd.read_parquet(paths.manifest), TAXONOMY.root, images, Pick.random,
                        TAXONOMY, FolderSource(paths.root, "unused.csv"),
                        paths.label_batches, 3600, seed=0)


def _version_of(answer: object) -> str:
    """Label Studio's version from ``/api/version`` (its shape varies between releases)."""
    if isinstance(answer, dict):
        release = answer.get("release") or answer.get("label-studio-os-package", {})
        return str(release.get("version", release) if isinstance(release, dict) else release)
    return str(answer)


def table(r: dict[str, object]) -> Table:
    return Table("round_trip", ("step", "outcome"), [
        ("Label Studio", f"{r['version']}, pip-installed in its own venv, on 127.0.0.1"),
        ("tasks imported from `label_studio_tasks.json`", Figure(r["tasks"], "", digits=0)),
        ("annotations made through its API, two users", Figure(r["annotations"], "",
                                                               digits=0)),
        ("answers `label import` read from its JSON export", Figure(r["answers"], "",
                                                                   digits=0)),
        ("workers it found", Figure(r["workers"], "", digits=0)),
        ("images labelled in `labels/crowd.csv`", Figure(r["images"], "", digits=0)),
        ("of them both users agreed on (the second is wrong on every third)",
         Figure(r["unanimous"], "", digits=0)),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path("/tmp/ls-venv"),
                        help="Label Studio's virtual environment (made when missing)")
    parser.add_argument("--images", type=int, default=60, help="the batch's (default 60)")
    add_results_option(parser)
    args = parser.parse_args(argv)
    run = BenchRun.start("label_studio", args.results_dir, args)
    command = installed(args.venv)
    with tempfile.TemporaryDirectory(prefix="bench-label-studio-") as work:
        result = round_trip(command, Path(work), args.images)
    print(json.dumps(result, indent=2))
    run.write([table(result)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
