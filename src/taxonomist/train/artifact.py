"""A trained node's folder, ``models/<node>/``: what it holds, how to write and read it.

Every node model, neural or classical, is saved here and loaded back from here, so the
stack, evaluation and ``backbone.init_from`` never need to know which kind a node is:

- ``spec.json``: the :class:`~.model.NodeSpec` (classes, backbone, preprocessing, head;
  with ``targets: leaves``, the leaves the network outputs, which loading turns back into
  the children's log-probabilities).
- ``model.safetensors``: the network's weights; for a classical head, the frozen
  backbone's (no classifier layer).
- ``head.skops``: a classical head's fitted scikit-learn pipeline (never pickle).

A file that is a pickle which imports code when loaded (the way a malicious model file
runs its payload) is refused, naming the file, before anything in it is read:
:func:`refuse_code_in_pickle` guards every ``torch.load`` of a checkpoint or weights file.

Example:
    >>> save_node_model(model, spec, paths.model_dir("round"))
    >>> spec, model = load_node_model(paths.model_dir("round"))  # in eval mode
"""

from __future__ import annotations

import json
import pickletools
import zipfile
from dataclasses import asdict
from pathlib import Path

import skops.io as sio
import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from taxonomist.config.schema import Head
from taxonomist.errors import DataError
from taxonomist.train.classical import ClassicalNode
from taxonomist.train.model import ChildrenFromLeaves, NodeSpec, attach_mlp_head, children_view

SPEC_FILE = "spec.json"
WEIGHTS_FILE = "model.safetensors"
HEAD_FILE = "head.skops"
# What a classical head's pipeline may contain; anything else is refused, not loaded.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.")
# Pickle opcodes that import a callable or class by name: how a payload gets to run.
_IMPORTING_OPS = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"}


class UnsafeModelFile(DataError):
    """A model or checkpoint file is a pickle that would run code when loaded."""


def save_node_model(model: nn.Module, spec: NodeSpec, folder: Path) -> None:
    """Write ``model`` (a network, or a :class:`~.classical.ClassicalNode`) and its spec."""
    folder.mkdir(parents=True, exist_ok=True)
    network = model.backbone if isinstance(model, ClassicalNode) else model
    if isinstance(network, ChildrenFromLeaves):  # the weights are the leaf network's
        network = network.network
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
    model = timm.create_model(spec.backbone, pretrained=False, num_classes=spec.outputs)
    if spec.mlp_hidden:
        attach_mlp_head(model, spec.outputs, spec.mlp_hidden, dropout=0.0)
    model.load_state_dict(read_weights(folder))
    return spec, children_view(model, spec).eval()


def read_spec(folder: Path) -> NodeSpec:
    """The spec of the node model saved in ``folder``."""
    return NodeSpec(**json.loads((folder / SPEC_FILE).read_text()))


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The state dict saved in ``folder`` (the whole network, or a classical backbone).

    Raises:
        UnsafeModelFile: the weights file is a pickle that imports code.
        DataError: it is not a safetensors file at all.
    """
    path = folder / WEIGHTS_FILE
    try:
        return load_file(path)
    except SafetensorError as err:  # safetensors never runs code, but say what the file is
        refuse_code_in_pickle(path)
        raise DataError(
            f"{path}: not a safetensors file ({err})\n  hint: retrain the node "
            f"(`dvc repro train@{folder.name}`) or restore the file with `dvc checkout`"
        ) from None


def refuse_code_in_pickle(path: Path) -> None:
    """Refuse ``path`` if it is a pickle (bare or in a ``torch.save`` zip) that imports
    anything but the tensors and plain values ``torch.load(weights_only=True)`` allows.

    Nothing in the file is run: a zip's pickle is read by torch's own scanner, a bare
    pickle only opcode by opcode. A file that is damaged rather than unsafe passes here
    and fails in the loader, which names the damage.

    Raises:
        UnsafeModelFile: naming the file and what it would import.
    """
    imports = _pickled_imports(path)
    if imports:
        raise UnsafeModelFile(
            f"{path}: refusing to load it: it is a pickle that imports "
            f"{', '.join(sorted(imports)[:5])} when loaded, which can run any code; "
            f"nothing in it was run\n  hint: taxonomist writes only tensors and plain "
            f"values; if you did not put this file there, delete it (rm '{path}') and rerun"
        )


def _pickled_imports(path: Path) -> set[str]:
    if zipfile.is_zipfile(path):
        try:
            return set(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        except (RuntimeError, ValueError, KeyError):  # not torch.save's layout, or damaged
            return set()
    imports, strings = set(), []
    try:
        with path.open("rb") as file:
            for op, arg, _ in pickletools.genops(file):
                if isinstance(arg, str):
                    strings.append(arg)
                if op.name in _IMPORTING_OPS:  # STACK_GLOBAL takes the last two strings
                    imports.add(arg.replace(" ", ".") if arg else ".".join(strings[-2:]))
    except (ValueError, EOFError, UnicodeDecodeError):  # not a pickle, or cut short
        pass
    return imports


def _save_weights(network: nn.Module, folder: Path) -> None:
    # safetensors refuses tensors that share or skip memory (views, channels_last)
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    save_file(state, folder / WEIGHTS_FILE)


def _load_classical(folder: Path, spec: NodeSpec) -> ClassicalNode:
    """Rebuild a classical node; the estimator loads with skops, never with pickle."""
    backbone = timm.create_model(spec.backbone, pretrained=False, num_classes=0)
    backbone.load_state_dict(read_weights(folder))
    head = folder / HEAD_FILE
    if not zipfile.is_zipfile(head):  # skops files are zips; a pickle in its place is not
        refuse_code_in_pickle(head)
        raise DataError(f"{head}: not a skops file\n  hint: retrain the node "
                        f"(`dvc repro train@{folder.name}`) or restore it with `dvc checkout`")
    untrusted = sio.get_untrusted_types(file=head)
    unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if unexpected:
        raise DataError(f"{head}: refusing to load unexpected types {unexpected}")
    estimator = sio.load(head, trusted=untrusted)
    return ClassicalNode(backbone.eval(), estimator, len(spec.classes))
