"""A node's starting network: a timm backbone from the hub, a file, another node, or random.

Every backbone name goes through timm's registry (``timm.is_model``), so a misspelt one
fails at once with the close names; ``backbone.init_from`` reads the other node's trained
model folder (:mod:`~.artifact`).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import timm
from torch import nn

from taxonomist.config import Paths
from taxonomist.config.schema import BackboneConfig
from taxonomist.errors import ConfigError
from taxonomist.train.artifact import (
    WEIGHTS_FILE,
    read_spec,
    read_weights,
    refuse_code_in_pickle,
)
from taxonomist.train.model import classifier_name


def create_backbone(
    cfg: BackboneConfig, num_classes: int, source: str, paths: Paths | None = None
) -> nn.Module:
    """A timm model for ``num_classes`` with weights from another node, the hub, a file,
    or random.

    Args:
        cfg: the ``backbone`` section of a classifier definition.
        num_classes: size of the new head.
        source: the config file to name in errors.
        paths: the project, where ``backbone.init_from`` finds the other node's model.

    Raises:
        ConfigError: unknown model name (with close names), missing weights file, hub
            weights that cannot be fetched, or an ``init_from`` node not trained yet.
    """
    _check_model_name(cfg.name, source)
    if cfg.init_from:
        return _from_other_node(cfg, num_classes, source, paths)
    if cfg.weights:
        weights = Path(cfg.weights)
        if not weights.is_file():
            raise ConfigError(source, "backbone.weights", f"no such file: {weights}")
        refuse_code_in_pickle(weights)  # a downloaded .pth may carry a payload
        return timm.create_model(
            cfg.name, pretrained=True, num_classes=num_classes,
            pretrained_cfg_overlay={"file": str(weights.resolve())},
        )
    try:
        return timm.create_model(cfg.name, pretrained=cfg.pretrained, num_classes=num_classes)
    except Exception as err:  # hub/network errors come in many types
        raise ConfigError(
            source,
            "backbone.pretrained",
            f"could not fetch pretrained weights for '{cfg.name}': {err}",
            "set `backbone.weights: <file>` for local weights, or `pretrained: false`",
        ) from None


def _from_other_node(
    cfg: BackboneConfig, num_classes: int, source: str, paths: Paths | None
) -> nn.Module:
    """A new head on the backbone another node trained (``backbone.init_from``)."""
    key, other = "backbone.init_from", cfg.init_from
    if paths is None:
        raise ConfigError(source, key, "works with `head: linear` only",
                          "a classical head embeds with the backbone as configured")
    folder = paths.model_dir(other)
    if not (folder / WEIGHTS_FILE).is_file():
        raise ConfigError(source, key, f"node '{other}' has no trained model in {folder}",
                          f"train it first: `dvc repro train@{other}`")
    trained_with = read_spec(folder).backbone
    if trained_with != cfg.name:
        raise ConfigError(source, key, f"node '{other}' was trained with backbone "
                          f"'{trained_with}', this node uses '{cfg.name}'",
                          "give both nodes the same backbone.name")
    model = timm.create_model(cfg.name, pretrained=False, num_classes=num_classes)
    head = _head_keys(model)
    state = {k: v for k, v in read_weights(folder).items() if k not in head}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - head:
        raise ConfigError(source, key, f"the weights in {folder} do not fit '{cfg.name}'",
                          f"retrain '{other}' (`dvc repro train@{other}`)")
    return model


def _head_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the classifier layer (``get_classifier``), dropped on transfer."""
    prefix = classifier_name(model)
    return {f"{prefix}.{key}" for key in model.get_classifier().state_dict()}


def _check_model_name(name: str, source: str) -> None:
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models()"
    raise ConfigError(source, "backbone.name", f"'{name}' is not a timm model", hint)
