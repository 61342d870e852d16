"""The node classifier network: a timm backbone with the node's classes as its head.

Also the one place that turns cached uint8 images into the network's input, so training,
evaluation and the served stack preprocess identically.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from timm.models import group_parameters
from torch import nn

from taxonomist.config import Paths
from taxonomist.config.schema import BackboneConfig
from taxonomist.errors import ConfigError

WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "spec.json"
NEURAL_HEADS = ("linear", "mlp")  # trained with the backbone; the others are scikit-learn


@dataclass(frozen=True)
class NodeSpec:
    """What it takes to rebuild a trained node classifier without the config."""

    node: str
    classes: list[str]
    backbone: str
    image_size: int
    mean: list[float]
    std: list[float]
    threshold: float
    head: str = "linear"
    mlp_hidden: int | None = None  # units of the mlp head's hidden layer

    def save(self, folder: Path) -> None:
        (folder / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> NodeSpec:
        return cls(**json.loads((folder / SPEC_FILE).read_text()))


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


def freeze(model: nn.Module, unfreeze_last: int) -> list[str]:
    """Freeze all but the head and the last ``unfreeze_last`` blocks (-1: train everything).

    Blocks are timm's coarse parameter groups in depth order; the last group is the head.

    Returns:
        The names of the parameters left trainable.
    """
    if unfreeze_last < 0:
        for param in model.parameters():
            param.requires_grad = True
        return [name for name, _ in model.named_parameters()]
    groups = list(group_parameters(model, model.group_matcher(coarse=True)).values())
    trainable = {name for group in groups[-(unfreeze_last + 1):] for name in group}
    for name, param in model.named_parameters():
        param.requires_grad = name in trainable
    return [name for name, _ in model.named_parameters() if name in trainable]


def frozen_norm_layers(model: nn.Module) -> list[nn.Module]:
    """Normalisation layers with no trainable parameter: keep them in eval mode, so
    their running statistics stay those of the pretrained backbone."""
    return [
        m for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and not any(p.requires_grad for p in m.parameters())
    ]


def to_input(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, S, S) in [0, 1]; augmentation works on this."""
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=True)
    return x.contiguous(memory_format=torch.channels_last)


def to_input_boxes(boxes: torch.Tensor, cached: torch.Size, image_size: int) -> torch.Tensor:
    """(B, 4) boxes in pixels of the cached (B, H, W, 3) images -> in pixels of ``to_input``."""
    sx, sy = image_size / cached[2], image_size / cached[1]
    return boxes.float() * torch.tensor([sx, sy, sx, sy], device=boxes.device)


def normalize(x: torch.Tensor, spec: NodeSpec) -> torch.Tensor:
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def save_node_model(model: nn.Module, spec: NodeSpec, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / WEIGHTS_FILE)
    spec.save(folder)


def load_node_model(folder: Path) -> tuple[NodeSpec, nn.Module]:
    """Rebuild a trained node classifier in eval mode from its folder (no pickle)."""
    spec = NodeSpec.load(folder)
    if spec.head not in NEURAL_HEADS:
        from taxonomist.train.classical import load_classical  # it builds on this module

        return spec, load_classical(folder, spec).eval()
    model = timm.create_model(spec.backbone, pretrained=False, num_classes=len(spec.classes))
    if spec.mlp_hidden:
        attach_mlp_head(model, len(spec.classes), spec.mlp_hidden, dropout=0.0)
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return spec, model.eval()


def attach_mlp_head(model: nn.Module, num_classes: int, hidden: int, dropout: float) -> None:
    """Put a two-layer head where timm's classifier layer is, under the same name.

    Keeping the name keeps the head in timm's last parameter group, so every transfer
    strategy treats it as the head.
    """
    features = model.num_features
    mlp = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True),
                        nn.Dropout(dropout), nn.Linear(hidden, num_classes))
    name = _classifier_name(model)
    parent_name, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent_name), attribute, mlp)


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
    trained_with = NodeSpec.load(folder).backbone
    if trained_with != cfg.name:
        raise ConfigError(source, key, f"node '{other}' was trained with backbone "
                          f"'{trained_with}', this node uses '{cfg.name}'",
                          "give both nodes the same backbone.name")
    model = timm.create_model(cfg.name, pretrained=False, num_classes=num_classes)
    head = _head_keys(model)
    state = {k: v for k, v in load_file(folder / WEIGHTS_FILE).items() if k not in head}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - head:
        raise ConfigError(source, key, f"the weights in {folder} do not fit '{cfg.name}'",
                          f"retrain '{other}' (`dvc repro train@{other}`)")
    return model


def _head_keys(model: nn.Module) -> set[str]:
    """State-dict keys of the classifier layer (``get_classifier``), dropped on transfer."""
    prefix = _classifier_name(model)
    return {f"{prefix}.{key}" for key in model.get_classifier().state_dict()}


def _classifier_name(model: nn.Module) -> str:
    head = model.get_classifier()
    return next(name for name, module in model.named_modules() if module is head)


def _check_model_name(name: str, source: str) -> None:
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models()"
    raise ConfigError(source, "backbone.name", f"'{name}' is not a timm model", hint)
