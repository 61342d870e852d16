"""The node classifier network: a timm backbone with the node's classes as its head.

Also the one place that turns cached uint8 images into the network's input, so training,
evaluation and the served stack preprocess identically. Making a backbone from a config
is :mod:`~.backbone`'s job; saving and loading a trained node is :mod:`~.artifact`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.models import group_parameters
from torch import nn

from taxonomist.config.schema import ClassifierConfig, Head
from taxonomist.taxonomy import Taxonomy


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
    # targets: leaves: the network's outputs, one per leaf, and the child each is under
    leaves: list[str] | None = None
    leaf_child: list[int] | None = None

    @property
    def outputs(self) -> int:
        """How many outputs the network itself has (leaves, or else children)."""
        return len(self.leaves or self.classes)

    @classmethod
    def for_network(
        cls, node: str, classes: list[str], cfg: ClassifierConfig, network: nn.Module,
        fine: FineTargets | None = None,
    ) -> NodeSpec:
        """The spec of ``network``, built for ``node`` from its definition ``cfg``: the
        mean and std are those the backbone's pretrained weights expect. ``fine``: the
        network is trained on the node's leaves."""
        pretrained = network.pretrained_cfg
        return cls(
            node=node,
            classes=classes,
            backbone=cfg.backbone.name,
            image_size=cfg.image_size,
            mean=list(pretrained.get("mean", (0.485, 0.456, 0.406))),
            std=list(pretrained.get("std", (0.229, 0.224, 0.225))),
            threshold=cfg.threshold,
            head=str(cfg.head),
            mlp_hidden=cfg.mlp_hidden if cfg.head is Head.mlp else None,
            leaves=fine.leaves if fine else None,
            leaf_child=fine.leaf_child if fine else None,
        )


@dataclass(frozen=True)
class FineTargets:
    """``targets: leaves`` for one node: the network has one output per leaf under the node.

    An image's target is its label's index in ``labels`` (every class under the node), so
    an image labelled with an inner class (only ``round``, say) trains on the probability
    of all the leaves under its label together, not on one guessed leaf.
    """

    labels: list[str]  # every class under the node, children first
    leaves: list[str]
    label_child: list[int]  # the child each label is, or is under
    label_leaves: list[list[bool]]  # (labels, leaves): the leaves each label covers

    @classmethod
    def of(cls, taxonomy: Taxonomy, node: str) -> FineTargets:
        children = list(taxonomy.children[node])
        below = [n for n in taxonomy.nodes if node in taxonomy.path(n)[:-1]]
        labels = children + [n for n in below if n not in children]
        leaves = [n for n in below if n in set(taxonomy.leaves)]
        covers = [[label in taxonomy.path(leaf) for leaf in leaves] for label in labels]
        child = [children.index(taxonomy.child_for_label(node, label)) for label in labels]
        return cls(labels, leaves, child, covers)

    @property
    def leaf_child(self) -> list[int]:
        return [self.label_child[self.labels.index(leaf)] for leaf in self.leaves]


def set_log_probs(leaf_logits: torch.Tensor, sets: torch.Tensor) -> torch.Tensor:
    """(B, L) leaf logits, (K, L) bool sets of leaves -> (B, K) log-probability of each
    set: the log-sum-exp of its leaves' log-softmax."""
    log_p = F.log_softmax(leaf_logits, dim=1)[:, None, :]
    return torch.logsumexp(log_p.masked_fill(~sets, float("-inf")), dim=2)


class ChildrenFromLeaves(nn.Module):
    """A network over a node's leaves, read as its children: it outputs each child's
    log-probability, so a softmax of it gives the children's probabilities as a
    children-trained network's logits do."""

    def __init__(self, network: nn.Module, leaf_child: list[int], children: int) -> None:
        super().__init__()
        self.network = network
        member = F.one_hot(torch.tensor(leaf_child), children).T.bool()  # (children, leaves)
        self.register_buffer("member", member, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return set_log_probs(self.network(x), self.member)


def children_view(network: nn.Module, spec: NodeSpec) -> nn.Module:
    """``network`` as one that outputs a score per child of ``spec.node``."""
    if spec.leaf_child is None:
        return network
    return ChildrenFromLeaves(network, spec.leaf_child, len(spec.classes))


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


def attach_mlp_head(model: nn.Module, num_classes: int, hidden: int, dropout: float) -> None:
    """Put a two-layer head where timm's classifier layer is, under the same name.

    Keeping the name keeps the head in timm's last parameter group, so every transfer
    strategy treats it as the head.
    """
    features = model.num_features
    mlp = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(inplace=True),
                        nn.Dropout(dropout), nn.Linear(hidden, num_classes))
    name = classifier_name(model)
    parent_name, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent_name), attribute, mlp)


def classifier_name(model: nn.Module) -> str:
    """The dotted name of timm's classifier layer, e.g. ``"fc"`` or ``"head.fc"``."""
    head = model.get_classifier()
    return next(name for name, module in model.named_modules() if module is head)
