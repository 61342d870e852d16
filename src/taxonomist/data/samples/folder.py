"""The folder a bundled sample is written to: its manifest columns, and clearing it safely."""

from __future__ import annotations

import shutil
from pathlib import Path

from taxonomist.errors import DataError

# The columns of a sample's manifest CSV (what a source's manifest provides).
MANIFEST_COLUMNS = ("path", "label", "source", "set_id", "taken_at")


def clear_folder(out_dir: Path, manifest: str, labels: set[str]) -> None:
    """Delete a previous sample, refusing to touch anything a sample does not contain.

    A sample is ``manifest`` plus one folder of PNG files per label; anything else in
    ``out_dir`` is someone's data, and stops the sample with the path of the first one.

    Raises:
        DataError: ``out_dir`` holds files a sample did not write.
    """
    if not out_dir.exists():
        out_dir.mkdir(parents=True)
        return
    ours = {out_dir / manifest} | {out_dir / name for name in labels}
    foreign = [p for p in out_dir.iterdir() if p not in ours]
    foreign += [
        p for d in ours if d.is_dir() for p in d.iterdir() if p.suffix != ".png" or p.is_dir()
    ]
    if foreign:
        raise DataError(
            f"{out_dir}: will not clear this folder for the sample data, it holds files "
            f"`taxonomist sample` did not write (e.g. {foreign[0]}); point data.root at "
            "an empty or new folder, or move those files away"
        )
    shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
