"""The DVC project as DVC sees it: its graph, staleness checks, run-cache and dvc.lock.

Everything here calls DVC's own Python API, in the order ``Stage.run`` calls it (remove
the outputs, try the run-cache, hash the deps, run, hash and cache the outputs, write
the stage's entry in dvc.lock), only with the command itself run elsewhere. So a plain
``dvc status`` or ``dvc repro`` afterwards judges these stages exactly as if ``dvc
repro`` had run them. Only the parent process calls these, one at a time: DVC's objects
are not thread-safe and dvc.lock has one writer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dvc.exceptions import DvcException
from dvc.lock import LockError
from dvc.repo import Repo, lock_repo
from dvc.repo.reproduce import collect_stages, get_active_graph, get_subgraph
from dvc.stage import Stage
from dvc.stage.cache import RunCacheNotFoundError

from taxonomist.errors import TaxonomistError

PROJECT_FILE = "dvc.yaml"


class ProjectBusyError(TaxonomistError):
    """Another ``taxonomist repro`` or DVC command holds the project's lock."""


@dataclass(frozen=True)
class Plan:
    """The stages to consider, each with the stages it depends on (its upstream), both in
    dvc.yaml's order: stages ready together start in that order, on every run."""

    upstream: dict[Stage, list[Stage]]


@contextmanager
def locked_project(root: Path) -> Iterator[Repo]:
    """The DVC repository at ``root``, its lock held for the whole run.

    ``dvc repro`` lets the lock go while each command runs; here it is held throughout,
    so no second run (``taxonomist repro`` or ``dvc repro``) can write dvc.lock meanwhile.

    Raises:
        ProjectBusyError: the lock is held, naming the lock file and what to do.
    """
    repo = Repo(str(root))
    try:
        with lock_repo(repo), repo.scm_context(quiet=True):
            yield repo
    except LockError:
        raise ProjectBusyError(
            f"{root}: another `taxonomist repro` or DVC command is running in this project "
            f"(it holds {Path(repo.tmp_dir) / 'lock'}); wait for it to finish and run again. "
            "The lock is released when its holder exits, even if killed."
        ) from None
    finally:
        repo.close()


def plan(repo: Repo, targets: Sequence[str]) -> Plan:
    """``targets`` (default: all of dvc.yaml) and everything upstream of them, as
    ``dvc repro TARGET...`` would consider them (frozen stages cut from their deps)."""
    stages = collect_stages(repo, list(targets) or [str(Path(repo.root_dir) / PROJECT_FILE)])
    graph = get_subgraph(get_active_graph(repo.index.graph), stages)
    # the graph's own order follows string hashes, which differ from process to process
    position = {stage: i for i, stage in enumerate(repo.index.stages)}
    ordered = functools.partial(sorted, key=position.__getitem__)
    return Plan({stage: ordered(graph.successors(stage)) for stage in ordered(graph)})


def is_stale(stage: Stage, upstream: list[Stage]) -> bool:
    """DVC's own judgement: the stage, a dep or an out differs from dvc.lock."""
    return stage.changed(upstream=upstream)


def prepare(stage: Stage) -> bool:
    """Get ``stage`` ready to run: outputs removed (persistent ones kept, as DVC does),
    then restored from DVC's run-cache if this exact run was seen before.

    Returns:
        True when the run-cache restored it (it needs no run; record it), else False
        (its deps are hashed now, before the command runs, as DVC does).
    """
    stage.remove_outs(ignore_remove=False, force=False)
    try:
        stage.repo.stage_cache.restore(stage)
        return True
    except RunCacheNotFoundError:
        stage.save_deps()
        return False


def record(stage: Stage) -> None:
    """Hash and cache ``stage``'s outputs and write its entry in dvc.lock.

    Raises:
        TaxonomistError: an output the stage should have written is missing.
    """
    no_cache_outs = any(not o.use_cache for o in stage.outs if not (o.is_metric or o.is_plot))
    try:
        stage.save(run_cache=not no_cache_outs)
        stage.commit()
    except DvcException as err:
        raise TaxonomistError(f"stage '{stage.addressing}' ran but DVC cannot record it: "
                              f"{err}") from err
    stage.dump(update_pipeline=False)


def commands(stage: Stage) -> tuple[str, ...]:
    """The stage's ``cmd`` as a tuple of command lines."""
    return (stage.cmd,) if isinstance(stage.cmd, str) else tuple(stage.cmd)
