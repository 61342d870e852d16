"""A full disk while writing a checkpoint, the manifest or the model card.

Each writer runs on a real full filesystem: a small tmpfs this test mounts (it runs as
root, as CI does). The error must name the file, the file written before must be intact,
and nothing empty or temporary may be left under the name a later run reads — the
zero-length ``last.ckpt`` of Lightning#21800.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from taxonomist.config import Paths
from taxonomist.contracts.cache import CachedSplit, images_file, save_node_split
from taxonomist.contracts.files import TEMP_GLOB, WriteFailed
from taxonomist.contracts.manifest import MANIFEST_COLUMNS
from taxonomist.data.store import Store
from taxonomist.report import write_model_card
from taxonomist.train.checkpointing import AtomicCheckpointIO
from tests.report.make_inputs import taxonomy, write_inputs

DISK_BYTES = 4 * 1024 * 1024
LEFT_FREE = 8 * 1024  # bytes left once the disk is "full": less than any second write


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted on a fresh folder, unmounted afterwards.

    Not skipped where mounting is refused: this row of the fault table would then be
    untested, so the test fails and says why.
    """
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        pytest.fail(
            f"could not mount a tmpfs on {mount} ({done.stderr.strip()}): the disk-full "
            "tests need root (or CAP_SYS_ADMIN) to mount one; run them as root"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> None:
    """Leave only :data:`LEFT_FREE` bytes free on ``disk``."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    (disk / "filler").write_bytes(b"\0" * (free - LEFT_FREE))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_previous_kept(path: Path, before: str, write: Callable[[], object]) -> None:
    """``write()`` on the full disk fails naming ``path``; ``path`` is as it was."""
    with pytest.raises(WriteFailed, match="No space left on device") as failure:
        write()
    assert str(path) in str(failure.value), "the error must name the file"
    assert "disk holding" in str(failure.value), "the error must say what to do"
    assert digest(path) == before, f"{path} changed although its write failed"
    folder = path.parent
    assert not list(folder.glob(TEMP_GLOB)), "a temporary file was left behind"
    assert not [p for p in folder.iterdir() if p.is_file() and p.stat().st_size == 0]


def test_a_checkpoint_on_a_full_disk_keeps_the_last_one(disk: Path) -> None:
    last = disk / "checkpoints" / "round" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 1, "state_dict": {"w": torch.zeros(16)}}, last)
    before = digest(last)
    fill(disk)
    bigger = {"epoch": 2, "state_dict": {"w": torch.zeros(256 * 1024)}}  # 1 MiB
    assert_previous_kept(last, before, lambda: io.save_checkpoint(bigger, last))
    assert torch.load(last, weights_only=True)["epoch"] == 1


def manifest_row(i: int) -> dict[str, object]:
    row: dict[str, object] = {column: "" for column in MANIFEST_COLUMNS}
    row |= {"id": f"{i:064x}", "path": f"in/{i}.png", "label": "zero", "width": 32,
            "height": 32, "stored": f"data/images/{i}.png", "bbox_x0": None,
            "bbox_y0": None, "bbox_x1": None, "bbox_y1": None}
    return row


def test_the_manifest_on_a_full_disk_keeps_the_last_one(disk: Path) -> None:
    paths = Paths(disk)
    first = Store(paths)
    first.record(manifest_row(0))
    first.save()
    before = digest(paths.manifest)
    later = Store(paths)
    for i in range(1, 2000):
        later.record(manifest_row(i))
    fill(disk)
    assert_previous_kept(paths.manifest, before, later.save)


def test_the_model_card_on_a_full_disk_keeps_the_last_one(disk: Path) -> None:
    paths = write_inputs(disk)
    write_model_card(paths, taxonomy(), pdf=None)
    before = digest(paths.model_card)
    fill(disk)
    assert_previous_kept(
        paths.model_card, before, lambda: write_model_card(paths, taxonomy(), pdf=None)
    )


def cached(rows: int, side: int) -> CachedSplit:
    index = pd.DataFrame({"id": [f"{i:064x}" for i in range(rows)], "label": "zero",
                          "set_id": "", "source": "", "taken_at": ""})
    return CachedSplit(np.zeros((rows, side, side, 3), np.uint8), index)


def test_the_cache_on_a_full_disk_keeps_the_last_one(disk: Path) -> None:
    layout = Paths(disk)
    save_node_split(layout, "digit", "train", cached(2, 8))
    images = images_file(layout, "digit", "train")
    before = digest(images)
    fill(disk)
    assert_previous_kept(images, before,
                         lambda: save_node_split(layout, "digit", "train", cached(64, 64)))
