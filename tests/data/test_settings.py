"""The data settings `taxonomist pipeline` checks before it writes dvc.yaml: each mistake
fails there, naming its file and key, not in the ingest or detect stage an hour later."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.config import compose_config
from taxonomist.data.settings import check_data_settings
from taxonomist.errors import ConfigError


def test_the_repository_settings_pass(project: Path) -> None:
    check_data_settings(compose_config(), project)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["+data.formats=[PNG,NOSUCHFORMAT]"],
         r"conf/data/sample.yaml: formats: 'NOSUCHFORMAT' is not an image format Pillow"),
        (["+data.label_precedence=[expert,expert]"],
         r"conf/data/sample.yaml: label_precedence: expert listed more than once"),
        (["+data.path_pattern='[^/]+/.+'"],
         r"conf/data/sample.yaml: path_pattern: has no \(\?P<label>...\) group"),
        (["detect.enabled=true", "detect.model=fasterrcnn_nosuchnet"],
         r"detect.model: 'fasterrcnn_nosuchnet' is no builder"),
    ],
    ids=["image format", "precedence twice", "pattern without label", "unknown detector"],
)
def test_a_setting_only_a_data_stage_can_judge_fails_naming_its_key(
    project: Path, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_data_settings(compose_config(overrides=overrides), project)
