"""The command line of a sweep: which overrides are Hydra's, which sweep the node, and are
they valid — checked before the first trial starts, not when trial 7 fails."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from taxonomist.config.schema import ClassifierConfig
from taxonomist.errors import ConfigError

SOURCE = "taxonomist sweep"  # where these values come from, for error messages


@dataclass(frozen=True)
class SweepOverrides:
    """The overrides of one sweep, parsed.

    Attributes:
        node: ``key=value`` strings relative to the node's classifier definition, as
            typed (``optim.lr=1e-3,3e-4``, ``optim.lr=tag(log, interval(1e-4, 1e-2))``).
        hydra: Hydra's own, e.g. ``hydra/sweeper=optuna``, ``hydra.sweeper.n_trials=20``.
        varied: the dotted keys given several values, a range or an interval: the ones
            a winner is chosen for.
        fixed: the keys given one value: conditions of the sweep (fewer epochs, say),
            not results, so ``--apply`` leaves them out.
    """

    node: list[str]
    hydra: list[str]
    varied: list[str]
    fixed: list[str]

    @property
    def optuna(self) -> bool:
        return any(o.replace(" ", "") == "hydra/sweeper=optuna" for o in self.hydra)


def parse_overrides(overrides: list[str], base: ClassifierConfig) -> SweepOverrides:
    """Split and check a sweep's overrides against the node's current definition.

    Every value of a list sweep (``a,b``, ``choice(...)``, ``range(...)``) and both ends of
    an ``interval(...)`` must be valid in ``base``, with the same checks as the YAML.

    Raises:
        ConfigError: naming the override, what was wrong and how to fix it.
    """
    parsed = _parse(overrides)
    node = [o for o in parsed if not o.is_hydra_override()]
    for override in node:
        _check_override(override, base)
    _check_hydra(o for o in parsed if o.is_hydra_override())
    if not any(o.is_sweep_override() for o in node):
        raise ConfigError(
            SOURCE, "", "nothing to sweep: no key of the classifier definition has more "
            "than one value",
            "give keys relative to the node's definition several values, a range or an "
            "interval, e.g. optim.lr=1e-3,3e-4 backbone.name=resnet10t,resnet18 or "
            "optim.lr='tag(log, interval(1e-4, 1e-2))' with hydra/sweeper=optuna",
        )
    return SweepOverrides(
        node=[o.input_line for o in node],
        hydra=[o.input_line for o in parsed if o.is_hydra_override()],
        varied=[o.key_or_group for o in node if o.is_sweep_override()],
        fixed=[o.key_or_group for o in node if not o.is_sweep_override()],
    )


def _parse(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise ConfigError(SOURCE, "", str(err).splitlines()[0],
                          "overrides look like key=a,b or key=interval(0.1,1)") from None


def _check_override(override: Override, base: ClassifierConfig) -> None:
    key = override.key_or_group
    if override.type is not OverrideType.CHANGE or override.package is not None:
        raise ConfigError(
            SOURCE, override.input_line, "only plain key=value overrides can sweep a node",
            f"write {key}=..., without +, ++, ~ or @",
        )
    _check_key(key)
    for value in _candidates(override):
        _check_value(base, key, value)


def _check_key(key: str) -> None:
    schema: Any = ClassifierConfig
    for depth, part in enumerate(key.split(".")):
        names = [f.name for f in fields(schema)]
        if part not in names:
            close = difflib.get_close_matches(part, names, n=1)
            where = ".".join(key.split(".")[:depth]) or "a classifier definition"
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(SOURCE, key, f"no key '{part}' in {where}",
                              f"{hint}valid keys: {', '.join(names)}")
        field = next(f for f in fields(schema) if f.name == part)
        default = field.default_factory() if callable(field.default_factory) else None
        if not is_dataclass(default):
            return  # a leaf, or a free-form list/dict such as augment: values are checked
        schema = type(default)


def _candidates(override: Override) -> list[Any]:
    if not override.is_sweep_override():
        return [override.value()]
    if override.is_discrete_sweep():
        return list(override.sweep_iterator())
    interval = override.value()  # interval(a, b): both ends must be valid values
    return [interval.start, interval.end]


def _check_value(base: ClassifierConfig, key: str, value: Any) -> None:
    layer = OmegaConf.create()
    OmegaConf.update(layer, key, value, force_add=True)
    try:
        OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(base), layer))
    except OmegaConfBaseException as err:
        raise ConfigError(SOURCE, f"{key}={value}", err.msg.splitlines()[0]) from None


def _check_hydra(overrides) -> None:
    for override in overrides:
        if override.key_or_group == "hydra.sweeper.storage" and override.value() is not None:
            raise ConfigError(
                SOURCE, override.input_line,
                "optuna 2.10 (pinned by hydra-optuna-sweeper) cannot open a database with "
                "SQLAlchemy 2, which MLflow needs",
                "leave hydra.sweeper.storage unset: the study lives in memory and every trial "
                "is in MLflow anyway",
            )
