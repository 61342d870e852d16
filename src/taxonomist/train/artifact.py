"""A trained node's folder, ``models/<node>/``: what it holds, how to write and read it.

Every node model, neural or classical, is saved here and loaded back from here, so the
stack, evaluation and ``backbone.init_from`` never need to know which kind a node is:

- ``spec.json``: the :class:`~.model.NodeSpec` (classes, backbone, preprocessing, head).
- ``model.safetensors``: the network's weights; for a classical head, the frozen
  backbone's (no classifier layer).
- ``head.skops``: a classical head's fitted scikit-learn pipeline (never pickle).

Example:
    >>> save_node_model(model, spec, paths.model_dir("round"))
    >>> spec, model = load_node_model(paths.model_dir("round"))  # in eval mode
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import skops.io as sio
import timm
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from taxonomist.config.schema import Head
from taxonomist.errors import DataError
from taxonomist.train.classical import ClassicalNode
from taxonomist.train.model import NodeSpec, attach_mlp_head

SPEC_FILE = "spec.json"
WEIGHTS_FILE = "model.safetensors"
HEAD_FILE = "head.skops"
# What a classical head's pipeline may contain; anything else is refused, not loaded.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.")


def save_node_model(model: nn.Module, spec: NodeSpec, folder: Path) -> None:
    """Write ``model`` (a network, or a :class:`~.classical.ClassicalNode`) and its spec."""
    folder.mkdir(parents=True, exist_ok=True)
    network = model.backbone if isinstance(model, ClassicalNode) else model
    _save_weights(network, folder)
    if isinstance(model, ClassicalNode):
        sio.dump(model.estimator, folder / HEAD_FILE)
    (folder / SPEC_FILE).write_text(json.dumps(asdict(spec), indent=2))


def load_node_model(folder: Path) -> tuple[NodeSpec, nn.Module]:
    """Rebuild a trained node classifier in eval mode from its folder (no pickle).

    Raises:
        DataError: a classical head's file holds types other than scikit-learn's and
            numpy's.
    """
    spec = read_spec(folder)
    if Head(spec.head).is_classical:
        return spec, _load_classical(folder, spec).eval()
    model = timm.create_model(spec.backbone, pretrained=False, num_classes=len(spec.classes))
    if spec.mlp_hidden:
        attach_mlp_head(model, len(spec.classes), spec.mlp_hidden, dropout=0.0)
    model.load_state_dict(read_weights(folder))
    return spec, model.eval()


def read_spec(folder: Path) -> NodeSpec:
    """The spec of the node model saved in ``folder``."""
    return NodeSpec(**json.loads((folder / SPEC_FILE).read_text()))


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The state dict saved in ``folder`` (the whole network, or a classical backbone)."""
    return load_file(folder / WEIGHTS_FILE)


def _save_weights(network: nn.Module, folder: Path) -> None:
    # safetensors refuses tensors that share or skip memory (views, channels_last)
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    save_file(state, folder / WEIGHTS_FILE)


def _load_classical(folder: Path, spec: NodeSpec) -> ClassicalNode:
    """Rebuild a classical node; the estimator loads with skops, never with pickle."""
    backbone = timm.create_model(spec.backbone, pretrained=False, num_classes=0)
    backbone.load_state_dict(read_weights(folder))
    untrusted = sio.get_untrusted_types(file=folder / HEAD_FILE)
    unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if unexpected:
        raise DataError(f"{folder / HEAD_FILE}: refusing to load unexpected types {unexpected}")
    estimator = sio.load(folder / HEAD_FILE, trusted=untrusted)
    return ClassicalNode(backbone.eval(), estimator, len(spec.classes))
