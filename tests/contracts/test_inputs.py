"""The input stamps of a stage whose deps lie outside the project (data.root=/srv/photos)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxonomist.contracts.inputs import InputChanged, unchanged_inputs


def test_a_dep_outside_the_project_is_stamped_and_watched(tmp_path: Path) -> None:
    project, photos = tmp_path / "project", tmp_path / "photos"
    project.mkdir()
    (photos / "circle").mkdir(parents=True)
    (photos / "circle" / "01.jpg").write_bytes(b"one")
    with pytest.raises(InputChanged, match="01.jpg"):
        with unchanged_inputs(project, "ingest", [str(photos)]):
            (photos / "circle" / "01.jpg").write_bytes(b"edited while ingest ran")
