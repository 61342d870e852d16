"""Where a model came from: the code commit, the data hashes, the run and the config."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from taxonomist.config import Paths
from taxonomist.contracts.promotion import PromotionRecord
from taxonomist.errors import DataError

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Lineage:
    """Enough to rebuild or trace the model.

    Attributes:
        git_commit: ``git rev-parse HEAD`` of the project, or ``"unknown"`` outside git.
        data_hashes: project-relative path -> md5 that DVC recorded, None if not recorded.
        params_text: the resolved config as written (params.yaml and every node's
            ``params/<node>.json``), None without a params.yaml.
    """

    git_commit: str
    data_hashes: dict[str, str | None]
    model: str
    version: str
    run_id: str
    tracking_uri: str
    params_text: str | None


def load_lineage(paths: Paths, promotion: PromotionRecord) -> Lineage:
    """Collect the lineage of the challenger named in ``promotion``."""
    tracked = [_relative(p, paths.root) for p in (paths.manifest, paths.splits)]
    return Lineage(
        git_commit=git_commit(paths.root),
        data_hashes=dvc_hashes(paths.root / "dvc.lock", tracked),
        model=promotion.registered_model,
        version=promotion.challenger.version,
        run_id=promotion.challenger.run_id or "",
        tracking_uri=promotion.tracking_uri,
        params_text=_params_text(paths),
    )


def _params_text(paths: Paths) -> str | None:
    """params.yaml, then each node's ``params/<node>.json``, each under its path."""
    if not paths.params.is_file():
        return None
    files = [paths.params, *sorted(paths.node_params_dir.glob("*.json"))]
    return "\n".join(f"# {_relative(f, paths.root)}\n{f.read_text(encoding='utf-8')}"
                     for f in files)


def git_commit(folder: Path) -> str:
    """The commit checked out in ``folder``, or ``"unknown"`` (no git, not a repository)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else UNKNOWN


def dvc_hashes(lock: Path, wanted: list[str]) -> dict[str, str | None]:
    """The md5 DVC recorded for each path in ``wanted``, from any stage of ``dvc.lock``.

    An output of a stage is preferred over the same path listed as a dependency, since
    the output is where the hash was first computed.

    Example:
        >>> dvc_hashes(Path("no/dvc.lock"), ["data/manifest.parquet"])
        {'data/manifest.parquet': None}
    """
    found: dict[str, str | None] = dict.fromkeys(wanted)
    if not lock.is_file():
        return found
    try:
        stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages") or {}
    except yaml.YAMLError as err:
        raise DataError(f"{lock} is not valid YAML ({err}); `dvc repro` rewrites it") from None
    for section in ("deps", "outs"):  # outs last, so they win
        for stage in stages.values():
            for entry in (stage or {}).get(section) or []:
                if entry.get("path") in found and entry.get("md5"):
                    found[entry["path"]] = str(entry["md5"])
    return found


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()
