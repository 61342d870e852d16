"""One of the parallel writers of test_mlflow_writers: what a node's training tells MLflow.

It opens the store, waits until all writers are ready (so that they really write at
once), then creates a run, logs one metric per epoch in its own request, uploads a model
folder, and, once all have got there (8 nodes finishing together), registers it as a
version of one shared registered model and ends the run.
Prints ``{"run_id": ..., "version": ...}``.

Usage: ``python mlflow_writer.py TRACKING_URI ARTIFACTS READY_DIR WRITERS INDEX EPOCHS``
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from taxonomist.tracking.runs import RunLog

EXPERIMENT, MODEL = "parallel", "parallel.node"


def wait_for_the_others(ready: Path, writers: int, index: int) -> None:
    ready.mkdir(exist_ok=True)
    (ready / str(index)).touch()
    deadline = time.monotonic() + 120  # a writer that died never comes
    while len(list(ready.iterdir())) < writers and time.monotonic() < deadline:
        time.sleep(0.01)


def main() -> None:
    uri, artifacts, ready, writers, index, epochs = sys.argv[1:]
    local = uri.startswith("sqlite:")
    runs = RunLog(uri, EXPERIMENT, Path(artifacts).as_uri() if local else None)
    wait_for_the_others(Path(ready) / "start", int(writers), int(index))
    run_id = runs.start(f"train node{index}", {"node": f"node{index}"})
    for epoch in range(int(epochs)):
        runs.log(run_id, metrics={"val_loss": 1.0 / (epoch + 1)}, timestamp_ms=epoch + 1)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "weights.bin").write_bytes(bytes(range(256)) * 4)
        runs.log_folder(run_id, Path(folder), "model")
    wait_for_the_others(Path(ready) / "register", int(writers), int(index))
    version = runs.register_folder(run_id, "model", MODEL, {"node": f"node{index}"})
    runs.finish(run_id)
    print(json.dumps({"run_id": run_id, "version": version}))


if __name__ == "__main__":
    main()
