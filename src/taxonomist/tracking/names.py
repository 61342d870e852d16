"""Registered-model names and run tags: the one place they are spelt.

A taxonomy ``cars`` registers one model per inner node (``cars.make``), the composed
stack (``cars.stack``) and, while a promotion moves ``@live``, its lock
(``cars.stack.promotion-lock``).
"""

from __future__ import annotations

STAGE_TAG = "taxonomist.stage"  # which stage logged the run: train, sweep, stack, evaluate
NODE_TAG = "taxonomist.node"  # the inner node a train or sweep run is about
PARENT_RUN_TAG = "mlflow.parentRunId"  # MLflow's own: nests a trial under its sweep
SWEEP_VALUES_TAG = "taxonomist.sweep.values"  # on a trial: JSON of the swept keys' values
SWEEP_WINNER_TAG = "taxonomist.sweep.winner"  # on a sweep: the best trial's run id
SWEEP_WINNER_VALUES_TAG = "taxonomist.sweep.winner_values"  # on a sweep: JSON, its values
# MLflow's own experiment tag: which view its UI opens the experiment in.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"  # runs, metrics and models, not GenAI traces
# MLflow 3's UI opens in its GenAI view (no Model registry link) unless a link asks for this.
UI_MODEL_TRAINING = "workflowType=machine_learning"
# On a stack version: the promote stage's verdict on it, and why.
DECISION_TAG = "decision"
DECISION_REASON_TAG = "decision_reason"
ORPHAN_TAG = "taxonomist.orphan"  # on a stack version superseded before it was judged
IN_STACK_TAG = "in_stack.v"  # on a node version, one per stack version built from it: "in_stack.v3"


def node_model_name(taxonomy: str, node: str) -> str:
    """The registered model holding every trained version of one node's classifier."""
    return f"{taxonomy}.{node}"


def stack_model_name(taxonomy: str) -> str:
    """The registered model whose versions are whole stacks; ``@live`` points at one."""
    return f"{taxonomy}.stack"


def lock_model_name(model: str) -> str:
    """The registered model that exists only while a promotion holds the lock."""
    return f"{model}.promotion-lock"


def stage_tags(stage: str, node: str | None = None) -> dict[str, str]:
    """The tags every run taxonomist logs carries, e.g. ``stage_tags("train", "round")``."""
    return {STAGE_TAG: stage} | ({NODE_TAG: node} if node else {})


def experiment_tags() -> dict[str, str]:
    """The tags of the project's experiment: it opens as model training in the MLflow UI."""
    return {EXPERIMENT_KIND_TAG: MODEL_TRAINING}


def train_run_name(node: str) -> str:
    """The run that trains ``node``'s classifier, e.g. ``"train round"``."""
    return f"train {node}"


def stack_run_name(version: str) -> str:
    """The run that logged stack version ``version``, e.g. ``"stack v3"``: charts and run
    lists then tell the stacks apart."""
    return f"stack v{version}"


def in_stack_tag(stack_version: str) -> str:
    """The tag a node version gets for each stack version built from it."""
    return f"{IN_STACK_TAG}{stack_version}"
