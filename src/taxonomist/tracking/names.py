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
