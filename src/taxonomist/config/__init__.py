"""Typed configuration: schema dataclasses, Hydra composition, validation, paths."""

from taxonomist.config.compose import Config, compose_config, resolve_config_dir
from taxonomist.config.paths import Paths, resolve_tracking_uri
from taxonomist.config.schema import (
    Aggregation,
    Balance,
    ClassifierConfig,
    CrowdConfig,
    DataConfig,
    DataKind,
    DetectConfig,
    MlflowConfig,
    NotifyConfig,
    PromotionConfig,
    SplitConfig,
    TrainerConfig,
)

__all__ = [
    "Aggregation",
    "Balance",
    "ClassifierConfig",
    "Config",
    "CrowdConfig",
    "DataConfig",
    "DataKind",
    "DetectConfig",
    "MlflowConfig",
    "NotifyConfig",
    "Paths",
    "PromotionConfig",
    "SplitConfig",
    "TrainerConfig",
    "compose_config",
    "resolve_tracking_uri",
    "resolve_config_dir",
]
