"""conf/runner/<name>.yaml: typed once; a mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.errors import ConfigError
from taxonomist.runner.settings import RunnerConfig, RunnerKind, load_runner_config
from tests.conftest import REPO


def test_the_shipped_runners_load() -> None:
    assert load_runner_config(REPO / "conf", "local") == RunnerConfig()
    assert load_runner_config(REPO / "conf", "ray").kind is RunnerKind.ray
    slurm = load_runner_config(REPO / "conf", "slurm")
    assert (slurm.kind, slurm.cluster) == (RunnerKind.submitit, "slurm")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("ray", "kind: ray\njob: 4\n", r"conf/runner/ray.yaml: job: unknown key\n  hint: did "
     r"you mean 'jobs'\?"),
    ("local", "jobs: 0\n", r"conf/runner/local.yaml: jobs: expected 1 or more, got 0"),
    ("k8s", None, r"conf/runner/k8s.yaml: no such runner file\n  hint: choose one of: ray"),
])
def test_a_mistake_names_the_file_and_the_key(
    tmp_path: Path, name: str, text: str | None, message: str
) -> None:
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "ray.yaml").write_text("kind: ray\n")
    if text is not None:
        (tmp_path / "runner" / f"{name}.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_runner_config(tmp_path, name)
