"""Structured-config schema: what each YAML file may contain, with types and defaults.

Every YAML file under ``conf/`` is merged onto one of these dataclasses, so an unknown key
or a value of the wrong type is caught once, at composition time, with the file and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING


class Balance(str, Enum):
    """How a classifier compensates for unbalanced classes."""

    none = "none"
    weights = "weights"  # inverse-frequency class weights in the loss
    sampler = "sampler"  # inverse-frequency weighted sampling of the training set


class Head(str, Enum):
    """What sits on top of the backbone's pooled features."""

    linear = "linear"


class DataKind(str, Enum):
    """Where ingest reads images from."""

    sample = "sample"  # scikit-learn's bundled digits, written out by `taxonomist sample`
    folder = "folder"  # a folder of images plus a manifest CSV


@dataclass
class BackboneConfig:
    """A timm backbone and where its starting weights come from."""

    name: str = "resnet18"
    pretrained: bool = True  # timm / Hugging Face hub weights (needs network)
    weights: str | None = None  # local .pth / .safetensors file instead of the hub
    unfreeze_last: int = 0  # 0: head only; N: also the last N blocks; -1: everything


@dataclass
class OptimConfig:
    name: str = "adamw"  # any optimiser class in torch.optim, case-insensitive
    lr: float = 1e-3
    weight_decay: float = 1e-4


@dataclass
class ClassifierConfig:
    """One node's classifier: conf/classifiers/_default.yaml merged with <node>.yaml."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: Head = Head.linear
    image_size: int = 224
    # kornia.augmentation classes by name, each a one-key mapping to its arguments,
    # e.g. ``- RandomAffine: {degrees: 10}``; applied to whole batches, training only.
    augment: list[dict[str, Any]] = field(default_factory=list)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10
    batch_size: int = 32
    balance: Balance = Balance.weights
    patience: int = 3  # early stopping on val_loss
    threshold: float = 0.5  # the stack stops at this node below this probability
    min_images: int = 10  # per class; fewer fails validation
    recommended_images: int = 1000  # per class; fewer is a warning
    max_imbalance: float = 10.0  # largest/smallest class count


@dataclass
class TaxonomyConfig:
    name: str = MISSING
    tree: Any = MISSING


@dataclass
class DataConfig:
    kind: DataKind = DataKind.sample
    root: str = "data/sample"  # folder with the images and the manifest CSV
    manifest: str = "manifest.csv"  # relative to root
    # sample only: how many images of each digit to write (null: all ~180)
    per_class: int | None = None


@dataclass
class SplitConfig:
    val: float = 0.15
    test: float = 0.2


@dataclass
class TrainerConfig:
    """Arguments for Lightning's Trainer plus the DataLoader."""

    accelerator: str = "cpu"
    devices: Any = 1
    precision: str = "32-true"
    num_workers: int = 0
    deterministic: bool = True


@dataclass
class MlflowConfig:
    # null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow/mlflow.db in the project
    tracking_uri: str | None = None
    experiment: str = "taxonomist"
    artifact_root: str = "mlflow/artifacts"  # used with the local sqlite store only


@dataclass
class PromotionConfig:
    metric: str = "leaf_accuracy"  # a key of metrics/stack.json; higher is better
    min_improvement: float = 0.0  # challenger must beat live by more than this
    max_class_recall_drop: float = 0.05  # largest allowed recall drop of any class
    min_metric: float = 0.5  # floor for the first promotion, when nothing is live


@dataclass
class NotifyConfig:
    kind: str = "outbox"
    outbox: str = "reports/outbox.jsonl"


@dataclass
class ProjectConfig:
    """conf/config.yaml after Hydra has composed its defaults list."""

    taxonomy: TaxonomyConfig = field(default_factory=TaxonomyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    seed: int = 42
