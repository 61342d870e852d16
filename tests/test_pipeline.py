from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from taxonomist.cli import main
from taxonomist.config import Paths, compose_config
from taxonomist.config import overrides as recorded
from taxonomist.contracts.labels import CROWD, EXPERT, label_file, read_decided
from taxonomist.errors import ConfigError, StaleParamsError
from taxonomist.pipeline import check_current, diff_generated, dvc_yaml, regenerate, write
from tests.conftest import REPO, declared_params


def test_committed_params_and_dvc_yaml_are_current(monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert diff_generated(compose_config(REPO / "conf"), Paths(REPO)) == ""


@pytest.mark.parametrize("label_source", [CROWD, EXPERT])
def test_committed_label_files_have_the_columns_ingest_reads(label_source: str) -> None:
    """Ingest depends on them: a stale header stops the first `dvc repro` of a clone."""
    assert read_decided(label_file(REPO / "labels", label_source), label_source).empty


def test_one_train_and_evaluate_stage_per_inner_node(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    assert list(stages["train"]["foreach"]) == ["digit", "round", "straight", "curved"]
    assert stages["evaluate"]["foreach"] == list(stages["train"]["foreach"])
    # the node's own cache; the second slot is for a node's init_from model
    assert stages["train"]["do"]["deps"] == ["data/cache/${key}", "${item.starts_from}"]
    assert stages["train"]["foreach"]["round"] == {"starts_from": "data/cache/round"}
    assert stages["evaluate"]["do"]["deps"] == ["models/${item}", "data/cache/${item}"]


def test_each_node_cache_is_an_output_of_its_own_and_kept_across_runs(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    assert stages["cache"]["outs"] == [
        {f"data/cache/{n}": {"persist": True}}
        for n in ("digit", "round", "straight", "curved", "_stack")
    ]
    assert "taxonomy" in stages["cache"]["params"]  # which images a node sees
    assert "data/cache/_stack" in stages["stack"]["deps"]
    assert not any(d.startswith("data/cache/r") for d in stages["stack"]["deps"])


def test_train_params_are_only_what_training_reads(project: Path) -> None:
    params = declared_params(dvc_yaml(compose_config())["stages"]["train"]["do"]["params"])
    assert "params/${key}.json:classifier.epochs" in params
    assert "params/${key}.json:classifier.backbone" in params
    assert "params/${key}.json:classifier.focal_gamma" in params
    assert "params/${key}.json:classifier.threshold" not in params  # the stack reads it
    assert "params/${key}.json:classifier.ancestor_weight" not in params  # so does this
    assert not any("round" in p for p in params)


def test_each_nodes_params_are_a_small_file_of_its_own(project: Path) -> None:
    """DVC parses a params file once per stage that reads it: the 35-node sample's
    no-op `dvc status` took 29 s with every node in params.yaml."""
    assert main(["pipeline"]) == 0
    assert "nodes" not in yaml.safe_load((project / "params.yaml").read_text())
    written = {p.stem: json.loads(p.read_text()) for p in (project / "params").glob("*.json")}
    config = compose_config()
    assert set(written) == set(config.taxonomy.inner_nodes)
    for node, params in written.items():  # all that its training reads: one file
        assert params == {**config.node_params(node), "trainer": config.params()["trainer"],
                          "seed": 42, "taxonomy": {"name": "digits"}}
    train = dvc_yaml(config)["stages"]["train"]["do"]["params"]
    assert [next(iter(entry)) for entry in train] == ["params/${key}.json"]
    assert written["round"]["classes"] == ["zero", "six", "eight", "nine"]
    assert written["round"]["classifier"]["epochs"] == 8


def test_the_params_of_a_node_no_longer_in_the_taxonomy_are_removed(project: Path) -> None:
    assert main(["pipeline"]) == 0
    left = project / "params" / "gone.json"
    left.write_text("{}")
    assert "gone.json (on disk)" in diff_generated(compose_config(), Paths(project))
    assert main(["pipeline"]) == 0
    assert not left.exists()


def test_the_stack_stage_reads_how_nodes_lean_on_their_ancestor(project: Path) -> None:
    params = declared_params(dvc_yaml(compose_config())["stages"]["stack"]["params"])
    assert "params/round.json:classifier.ancestor_weight" in params
    assert "params/round.json:classifier.threshold" in params


def test_a_node_starting_from_another_depends_on_its_model(project: Path) -> None:
    config = compose_config(overrides=["classifiers.round.backbone.init_from=digit"])
    items = dvc_yaml(config)["stages"]["train"]["foreach"]
    assert items["round"] == {"starts_from": "models/digit"}
    assert items["digit"] == {"starts_from": "data/cache/digit"}


def test_dvc_names_the_stages_train_at_node_and_orders_init_from(project: Path) -> None:
    """What DVC 3 itself makes of the generated dict-foreach."""
    config = compose_config(overrides=["classifiers.round.backbone.init_from=digit"])
    write(config, Paths(project))
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], check=True)
    dag = subprocess.run([*dvc, "dag", "train@round"], capture_output=True, text=True)
    assert dag.returncode == 0, dag.stderr
    assert "train@digit" in dag.stdout and "cache" in dag.stdout
    assert "train@straight" not in dag.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["classifiers.round.backbone.init_from=digit",
             "classifiers.digit.backbone.init_from=curved",
             "classifiers.curved.backbone.init_from=round"],
            "round.yaml: backbone.init_from: the nodes start from each other in a cycle: "
            "digit -> curved -> round -> digit",
        ),
        (["classifiers.round.backbone.init_from=round"], "cycle: round -> round"),
        (["classifiers.round.backbone.init_from=six"], "'six' is not an inner node"),
        (
            ["classifiers.round.backbone.init_from=digit",
             "classifiers.round.backbone.name=test_resnet"],
            "'digit' uses backbone 'resnet10t', this node 'test_resnet'",
        ),
    ],
)
def test_bad_init_from_is_a_config_error(project: Path, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message):
        dvc_yaml(compose_config(overrides=overrides))


def test_stale_params_are_refused_with_the_command_to_run(project: Path) -> None:
    write(compose_config(), Paths(project))
    (project / "conf" / "classifiers" / "round.yaml").write_text("epochs: 3\n")
    with pytest.raises(StaleParamsError, match="run `taxonomist pipeline`") as err:
        check_current(compose_config(), Paths(project))
    assert re.search(r'-\s+"epochs": 8,\n\+\s+"epochs": 3,', str(err.value))


def test_every_stage_refuses_to_run_on_stale_params(project: Path, capsys) -> None:
    write(compose_config(), Paths(project))
    (project / "conf" / "classifiers" / "round.yaml").write_text("epochs: 3\n")
    assert main(["train", "round"]) == 2
    assert "run `taxonomist pipeline`" in capsys.readouterr().err
    assert not (project / "models").exists()


def test_check_flag_exits_nonzero_with_a_diff(project: Path, capsys) -> None:
    assert main(["pipeline", "--check"]) == 1
    assert "+++ params.yaml (from conf/)" in capsys.readouterr().out
    assert main(["pipeline"]) == 0
    assert main(["pipeline", "--check"]) == 0


@pytest.mark.parametrize(
    ("yaml_file", "text", "message"),
    [
        ("classifiers/round.yaml", "augment:\n  - RandomHorizantalFlip: {}\n",
         r"round.yaml: augment\[0\].*RandomHorizantalFlip.*did you mean RandomHorizontalFlip"),
        ("data/sample.yaml", "kind: sample\nformats: [JPG]\n",
         r"conf/data/sample.yaml: formats: 'JPG' is not an image format"),
    ],
)
def test_pipeline_refuses_what_only_a_stage_would_notice(
    project: Path, capsys, yaml_file: str, text: str, message: str
) -> None:
    (project / "conf" / yaml_file).write_text(text)
    assert main(["pipeline"]) == 2
    assert re.search(message, capsys.readouterr().err, re.S)
    assert not (project / "dvc.yaml").exists()


def test_validate_runs_after_the_split_and_gates_the_cache(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    order = list(stages)
    assert order.index("split") < order.index("validate") < order.index("cache")
    assert stages["split"]["deps"] == ["data/manifest.parquet"]
    assert {"data/manifest.parquet", "data/splits.parquet"} <= set(stages["validate"]["deps"])
    assert "reports/data/validation.json" in stages["cache"]["deps"]
    outs = [next(iter(out)) for out in stages["validate"]["outs"]]
    assert outs == ["reports/data/validation.json", "reports/data/docs"]
    params = declared_params(stages["validate"]["params"])
    assert "split.near_duplicate_distance" in params
    assert "params/round.json:classifier.max_source_share" in params
    assert "params/curved.json:classifier.fail_on_divergence" in params
    train = declared_params(stages["train"]["do"]["params"])
    assert not any("max_split_divergence" in p or "max_month_share" in p for p in train)


def test_the_validate_stage_reads_exactly_the_keys_of_its_checks(project: Path) -> None:
    stages = dvc_yaml(compose_config())["stages"]
    keys = [
        "min_images", "recommended_images", "max_imbalance", "max_source_share",
        "max_month_share", "max_split_divergence", "fail_on_divergence",
    ]
    nodes = ["digit", "round", "straight", "curved"]
    assert stages["validate"]["params"] == [
        "taxonomy",
        "split.near_duplicate_distance",
        *({f"params/{node}.json": [f"classifier.{key}" for key in keys]} for node in nodes),
    ]
    train = declared_params(stages["train"]["do"]["params"])
    assert not any(p.endswith(f".{key}") for p in train for key in keys)


def test_metrics_and_plots_views_are_declared_uncached(project: Path) -> None:
    """Committed with git (cache: false), so `dvc metrics/plots diff` see the last commit."""
    generated = dvc_yaml(compose_config())
    stack = generated["stages"]["stack"]
    assert stack["metrics"] == [{"metrics/stack.json": {"cache": False}}]
    assert {"plots/_stack": {"cache": False}} in stack["outs"]
    plots = {path: spec for entry in generated["plots"] for path, spec in entry.items()}
    assert plots["plots/round/confusion.csv"]["template"] == "confusion"
    assert plots["plots/round/per_class.csv"] | {"title": ""} == {
        "template": "bar_horizontal", "x": "recall", "y": "class", "title": ""}
    assert {"plots/_stack/per_class.csv", "plots/_stack/depth.csv",
            "plots/_stack/stops.csv"} <= set(plots)
    ignored = subprocess.run(["git", "check-ignore", "metrics/stack.json", "plots/round"],
                             cwd=REPO, capture_output=True, text=True).stdout
    assert ignored == ""  # neither is git-ignored


def test_the_detect_stage_runs_after_ingest_and_feeds_split_validate_and_cache(
    project: Path,
) -> None:
    (project / "detector.pt").write_bytes(b"")
    on = ["detect.enabled=true", "detect.weights=detector.pt"]
    stages = dvc_yaml(compose_config(overrides=on))["stages"]
    assert list(stages).index("detect") == list(stages).index("ingest") + 1
    assert stages["detect"]["deps"] == ["data/manifest.parquet", "data/images", "detector.pt"]
    assert stages["detect"]["params"] == ["detect"]
    assert {"data/detections.parquet": {"persist": True}} in stages["detect"]["outs"]
    for name in ("split", "validate", "cache"):
        assert "data/detections.parquet" in stages[name]["deps"], name
    assert "detect.margin" in stages["cache"]["params"]
    hub = dvc_yaml(compose_config(overrides=["detect.enabled=true"]))["stages"]["detect"]
    assert "detector.pt" not in hub["deps"]  # DEFAULT: torchvision's weights, no file


def test_with_detect_off_dvc_yaml_does_not_mention_it(project: Path) -> None:
    text = yaml.safe_dump(dvc_yaml(compose_config()))
    assert "detect" not in text


def test_pipeline_refuses_a_detector_weights_file_that_is_not_there(
    project: Path, capsys
) -> None:
    assert main(["pipeline", "detect.enabled=true", "detect.weights=models/car.pt"]) == 2
    err = capsys.readouterr().err
    assert "conf/config.yaml: detect.weights: no file at" in err and "models/car.pt" in err


def test_regenerate_records_the_overrides_it_was_composed_with_then_writes(
    project: Path,
) -> None:
    conf, paths = project / "conf", Paths(project)
    record = recorded.record_path(conf)
    changed = regenerate(compose_config(conf, ["seed=7"], recorded=False), paths, conf)
    assert changed[0] == record and paths.params in changed
    assert recorded.read_recorded(conf) == ("seed=7",)
    assert regenerate(compose_config(conf), paths, conf) == []  # the record applied again
    assert regenerate(compose_config(conf, [], recorded=False), paths, conf)[0] == record
    assert not record.exists()
