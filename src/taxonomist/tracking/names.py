"""Registered-model names, aliases, run tags, version tags and params: the one place they
are spelt.

A taxonomy ``cars`` registers one model per inner node (``cars.make``), the composed
stack (``cars.stack``) and, while a promotion moves ``@live``, its lock
(``cars.stack.promotion-lock``). Every constant named ``*_TAG`` or ``*_TAG_PREFIX`` is a
tag name; a test fails when a module elsewhere spells one of them by hand.
"""

from __future__ import annotations

LIVE_ALIAS = "live"  # the stack version serving follows; promote and rollback move it

# On runs.
STAGE_TAG = "taxonomist.stage"  # which stage logged the run: train, sweep, stack, evaluate
NODE_TAG = "taxonomist.node"  # the inner node a train or sweep run is about
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own: nests a trial under its sweep
RUN_NAME_TAG = "mlflow.runName"  # MLflow's own: the name its UI lists a run by
SWEEP_VALUES_TAG = "taxonomist.sweep.values"  # on a trial: JSON of the swept keys' values
SWEEP_WINNER_TAG = "taxonomist.sweep.winner"  # on a sweep: the best trial's run id
SWEEP_WINNER_VALUES_TAG = "taxonomist.sweep.winner_values"  # on a sweep: JSON, its values
# On a sweep: how it was run, so its row in the MLflow UI says so.
SWEEP_OBJECTIVE_TAG = "taxonomist.sweep.objective"  # best_val_loss or best_val_acc
SWEEP_SWEEPER_TAG = "taxonomist.sweep.sweeper"  # Hydra's hydra/sweeper choice
SWEEP_LAUNCHER_TAG = "taxonomist.sweep.launcher"  # Hydra's hydra/launcher choice
SWEEP_DIR_TAG = "taxonomist.sweep.dir"  # where Hydra wrote the trials' folders

# On the experiment. MLflow's own tag: which view its UI opens the experiment in.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"  # runs, metrics and models, not GenAI traces
# MLflow 3's UI opens in its GenAI view (no Model registry link) unless a link asks for this.
UI_MODEL_TRAINING = "workflowType=machine_learning"

# On a stack version: the promote stage's verdict on it, why, and the numbers behind it.
DECISION_TAG = "decision"
DECISION_REASON_TAG = "decision_reason"
DIFFERENCE_TAG = "difference_vs_live"  # the paired difference of the gate's metric
DIFFERENCE_CI_TAG = "difference_ci"  # its confidence interval, "[low, high]"
FAILING_CHECKS_TAG = "failing_checks"  # the node and class checks that failed, by name
COMPARED_WITH_TAG = "compared_with_version"  # the live version it was compared with
NEEDS_INVESTIGATION_TAG = "needs_investigation"  # "true" when a person must look
ORPHAN_TAG = "taxonomist.orphan"  # on a stack version superseded before it was judged
IN_STACK_TAG_PREFIX = "in_stack.v"  # on a node version, one per stack version: "in_stack.v3"

# On the stack's registered model: one tag per move of @live, "live_event.<UTC time>.<random>".
LIVE_EVENT_TAG_PREFIX = "live_event."
# On the version that goes live: when, by whom, why and how (promote or rollback).
LIVE_SINCE_TAG = "live_since"
LIVE_BY_TAG = "live_by"
LIVE_REASON_TAG = "live_reason"
LIVE_KIND_TAG = "live_kind"
# On the version that stops being live: when, by whom, why, and which version replaced it.
LIVE_UNTIL_TAG = "live_until"
LIVE_UNTIL_BY_TAG = "live_until_by"
LIVE_UNTIL_REASON_TAG = "live_until_reason"
REPLACED_BY_TAG = "live_replaced_by"

# On the promotion lock's registered model: whose it is, and since when.
LOCK_TOKEN_TAG = "token"  # the holder's random token
LOCK_OWNER_TAG = "owner"  # "<host>:<pid>"
LOCK_SINCE_TAG = "since"  # time.time() when it was taken


def node_model_name(taxonomy: str, node: str) -> str:
    """The registered model holding every trained version of one node's classifier."""
    return f"{taxonomy}.{node}"


def stack_model_name(taxonomy: str) -> str:
    """The registered model whose versions are whole stacks; ``@live`` points at one."""
    return f"{taxonomy}.stack"


def lock_model_name(model: str) -> str:
    """The registered model that exists only while a promotion holds the lock."""
    return f"{model}.promotion-lock"


def lock_breaker_name(lock: str, token: str) -> str:
    """The registered model that exists while one waiter breaks the stale ``lock`` that
    carries ``token``."""
    return f"{lock}.break-{token}"


def stage_tags(stage: str, node: str | None = None) -> dict[str, str]:
    """The tags every run taxonomist logs carries, e.g. ``stage_tags("train", "round")``."""
    return {STAGE_TAG: stage} | ({NODE_TAG: node} if node else {})


def experiment_tags() -> dict[str, str]:
    """The tags of the project's experiment: it opens as model training in the MLflow UI."""
    return {EXPERIMENT_KIND_TAG: MODEL_TRAINING}


def train_run_name(node: str) -> str:
    """The run that trains ``node``'s classifier, e.g. ``"train round"``."""
    return f"train {node}"


def sweep_run_name(node: str) -> str:
    """The parent run of a sweep of ``node``, e.g. ``"sweep round"``."""
    return f"sweep {node}"


def trial_run_name(node: str, number: int) -> str:
    """The run of one sweep trial, numbered as Hydra numbers its jobs: ``"round #0"``."""
    return f"{node} #{number}"


def stack_run_name(version: str) -> str:
    """The run that logged stack version ``version``, e.g. ``"stack v3"``: charts and run
    lists then tell the stacks apart."""
    return f"stack v{version}"


def in_stack_tag(stack_version: str) -> str:
    """The tag a node version gets for each stack version built from it: ``"in_stack.v3"``."""
    return f"{IN_STACK_TAG_PREFIX}{stack_version}"


def p_value_tag(test: str) -> str:
    """The tag holding the gate's p-value, named after its test:
    ``"mcnemar_p"`` (as every version had before there were two) or ``"wilcoxon_p"``."""
    return f"{test.lower()}_p"


def node_run_param(node: str) -> str:
    """The stack run's param naming the run that trained ``node``: ``"node_run.round"``."""
    return f"node_run.{node}"
