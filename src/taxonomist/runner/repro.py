"""``taxonomist repro``: DVC's pipeline, independent stages at once, DVC's dvc.lock after each.

The order is DVC's graph (``init_from`` is an edge there: ``train@round`` depends on
``models/digit``); Python's ``graphlib`` hands out the stages whose upstream is done. A
ready stage is judged by DVC (:func:`~.dvc_project.is_stale`), restored from the run-cache,
or sent to the backend; when it ends, the parent records it in dvc.lock at once. So a
``kill -9`` of the parent loses only the stages still running, and the next run redoes
just those. A failed stage stops the run: nothing new starts, the stages already
running finish and are recorded, and the error names the stage and its log.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path

from dvc.stage import Stage

from taxonomist.errors import TaxonomistError
from taxonomist.runner import dvc_project
from taxonomist.runner.backends import Backend
from taxonomist.runner.engines import open_backend
from taxonomist.runner.job import Entry, StageJob, StageOutcome
from taxonomist.runner.settings import RunnerConfig

LOG_TAIL_LINES = 15

Say = Callable[[str], None]


class StageFailedError(TaxonomistError):
    """A stage's command failed or its worker was lost; the message names its log."""


@dataclass
class ReproResult:
    """What one run did, by stage name."""

    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # stage -> why, with its log


def reproduce(
    root: Path,
    targets: Sequence[str],
    config: RunnerConfig,
    jobs: int | None,
    entry: Entry,
    say: Say = print,
    config_dir: Path | None = None,
) -> ReproResult:
    """Bring ``targets`` (default: the whole pipeline) up to date, as ``dvc repro`` would.

    Args:
        root: the project (a DVC repository).
        targets: stage names or dvc.yaml paths, as ``dvc repro`` takes them.
        config: where the stages' commands run (``conf/runner/*.yaml``).
        jobs: stages at once (None: the config's choice).
        entry: the CLI's ``main(argv)``, so workers run ``taxonomist`` verbs in-process.
        say: where progress lines go.
        config_dir: the project's conf/ (default: ``root/conf``), for its MLflow store.

    Raises:
        ProjectBusyError: another run holds the project's lock (checked before any
            worker starts).
        StageFailedError: a stage failed (after the others running then were recorded).
    """
    log_dir = (root / config.log_dir).resolve()
    with dvc_project.locked_project(root) as repo:
        plan = dvc_project.plan(repo, targets)
        backend = open_backend(config, jobs, log_dir)
        try:
            tracking = functools.partial(open_tracking, root, config_dir or root / "conf")
            run = _Run(plan, backend, entry, log_dir, say, functools.cache(tracking))
            say(f"{len(plan.upstream)} stages to check; running on {backend.describe()}")
            run.until_done(config.job_timeout_s)
        finally:
            backend.close()
    if run.result.failed:
        raise StageFailedError(_failure_message(run.result))
    return run.result


class _Run:
    def __init__(self, plan: dvc_project.Plan, backend: Backend, entry: Entry, log_dir: Path,
                 say: Say, before_jobs: Callable[[], None]) -> None:
        self.plan, self.backend, self.entry, self.log_dir, self.say = (
            plan, backend, entry, log_dir, say)
        self.before_jobs = before_jobs
        self.sorter = TopologicalSorter({s: plan.upstream[s] for s in plan.upstream})
        self.sorter.prepare()
        self.running: dict[Future[StageOutcome], tuple[Stage, float]] = {}
        self.waiting: list[Stage] = []
        self.result = ReproResult()

    def until_done(self, timeout_s: float) -> None:
        while self.sorter.is_active() and not self.result.failed:
            self._start_ready()
            if not self.running:
                break  # nothing ready, nothing running: only a cycle could do that
            self._collect(timeout_s)
        while self.running:  # after a failure: let the running stages end, record them
            self._collect(timeout_s)

    def _start_ready(self) -> None:
        """Start ready stages while fewer than ``jobs`` run; skipped and restored ones free
        their dependents at once. Ready stages beyond that wait here, oldest first."""
        while True:
            self.waiting.extend(self.sorter.get_ready())
            if not self.waiting or len(self.running) >= self.backend.jobs:
                return
            self._start(self.waiting.pop(0))

    def _start(self, stage: Stage) -> None:
        name = stage.addressing
        if not dvc_project.is_stale(stage, self.plan.upstream[stage]):
            self.say(f"Stage '{name}' didn't change, skipping")
            self.result.skipped.append(name)
            self.sorter.done(stage)
        elif dvc_project.prepare(stage):
            self.say(f"Stage '{name}' is cached - skipping run, checking out outputs")
            dvc_project.record(stage)
            self.result.restored.append(name)
            self.sorter.done(stage)
        else:
            self.before_jobs()
            job = self._job(stage)
            self.say(f"Running stage '{name}' (log: {job.log})")
            self.running[self.backend.submit(job, self.entry)] = (stage, time.monotonic())

    def _collect(self, timeout_s: float) -> None:
        oldest = min(started for _, started in self.running.values())
        left = max(0.0, oldest + timeout_s - time.monotonic())
        done, _ = wait(self.running, timeout=left, return_when=FIRST_COMPLETED)
        if not done:
            self._give_up_on_lost(timeout_s)
        for future in done:
            stage, _ = self.running.pop(future)
            self._finish(stage, future)

    def _finish(self, stage: Stage, future: Future[StageOutcome]) -> None:
        name, log = stage.addressing, self._log(stage)
        try:
            outcome = future.result()
        except Exception as err:  # noqa: BLE001 - the worker died: report it, go on recording
            self._fail(name, f"its worker was lost ({type(err).__name__}: {err}); log: {log}")
            return
        if outcome.returncode != 0:
            self._fail(name, f"exited with {outcome.returncode}; log: {log}")
            return
        try:
            dvc_project.record(stage)
        except TaxonomistError as err:
            self._fail(name, f"{err}; log: {log}")
            return
        self.result.ran.append(name)
        self.sorter.done(stage)
        done = len(self.result.ran) + len(self.result.restored) + len(self.result.skipped)
        self.say(f"Stage '{name}' done in {outcome.seconds:.1f} s on {outcome.host} "
                 f"[{done}/{len(self.plan.upstream)}]")

    def _give_up_on_lost(self, timeout_s: float) -> None:
        for future, (stage, started) in list(self.running.items()):
            if time.monotonic() - started >= timeout_s:
                del self.running[future]
                future.cancel()
                self._fail(stage.addressing, f"no answer after {timeout_s:.0f} s "
                           f"(runner job_timeout_s): its worker is lost or hangs; "
                           f"log: {self._log(stage)}")

    def _fail(self, name: str, why: str) -> None:
        self.result.failed[name] = why
        self.say(f"Stage '{name}' failed: {why}")

    def _job(self, stage: Stage) -> StageJob:
        log = self._log(stage)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")  # this run's output only
        env = (("DVC_ROOT", stage.repo.root_dir), ("DVC_STAGE", stage.addressing))
        return StageJob(stage.addressing, dvc_project.commands(stage), str(stage.wdir),
                        str(log), env)

    def _log(self, stage: Stage) -> Path:
        return self.log_dir / f"{stage.addressing.replace('/', '_')}.log"


def open_tracking(root: Path, config_dir: Path) -> None:
    """Create the project's MLflow store and experiment once, here, before the jobs:
    parallel jobs creating them at once collide (sqlite migrations, a second
    ``create_experiment``). A DVC project without taxonomist's conf/ has none."""
    from taxonomist.config import Paths, compose_config
    from taxonomist.tracking.runs import RunLog

    if not (config_dir / "config.yaml").is_file():
        return
    config = compose_config(config_dir)
    RunLog.for_project(config.project.mlflow, Paths(root)).ensure_experiment()


def _failure_message(result: ReproResult) -> str:
    lines = [f"stage '{name}' {why}" for name, why in result.failed.items()]
    for name in result.failed:
        tail = _log_tail(result, name)
        if tail:
            lines.append(f"last lines of {name}'s log:\n{tail}")
    kept = len(result.ran) + len(result.restored)
    lines.append(f"{kept} stages that finished are recorded in dvc.lock; fix the failure "
                 "and run `taxonomist repro` again: it runs only what is left")
    return "\n".join(lines)


def _log_tail(result: ReproResult, name: str) -> str:
    log = Path(result.failed[name].rsplit("log: ", 1)[-1])
    if not log.is_file():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(f"  {line}" for line in lines)
