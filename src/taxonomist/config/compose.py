"""Compose ``conf/`` with Hydra and validate it, once, into typed objects."""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import os
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from taxonomist.config.overrides import effective_overrides
from taxonomist.config.schema import ClassifierConfig, ProjectConfig
from taxonomist.errors import ConfigError
from taxonomist.taxonomy import Taxonomy

CONFIG_DIR_ENV = "TAXONOMIST_CONFIG_DIR"
DEFAULT_CLASSIFIER = "_default"


@dataclass(frozen=True)
class Config:
    """Everything a stage may read, validated.

    Attributes:
        project: the composed conf/config.yaml and its groups.
        taxonomy: the parsed class tree.
        classifiers: one resolved definition per inner node of the taxonomy.
        overrides: the Hydra overrides it was composed with, recorded ones included.
    """

    project: ProjectConfig
    taxonomy: Taxonomy
    classifiers: dict[str, ClassifierConfig]
    overrides: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """The content of params.yaml: the project config (each node's is its own file)."""
        return _plain(self.project)

    def node_params(self, node: str) -> dict[str, Any]:
        """The content of ``params/<node>.json``: the node's classes and classifier."""
        return {"classes": list(self.taxonomy.children[node]),
                "classifier": _plain(self.classifiers[node])}

    def require_inner_node(self, node: str, source: str = "dvc.yaml") -> None:
        """Raise unless ``node`` is an inner node of the taxonomy, one with a classifier.

        Args:
            node: the node a verb was given, e.g. ``taxonomist train round``.
            source: what the error names as the place of the mistake: ``dvc.yaml`` for a
                stage's node, ``taxonomist sweep`` for the sweep's.

        Raises:
            ConfigError: naming the inner nodes to choose from.
        """
        if node not in self.taxonomy.inner_nodes:
            raise ConfigError(
                source, node, "not an inner node of the taxonomy",
                f"nodes with a classifier: {', '.join(self.taxonomy.inner_nodes)}",
            )


def resolve_config_dir(config_dir: str | Path | None = None) -> Path:
    """``--config-dir``, else ``$TAXONOMIST_CONFIG_DIR``, else ``./conf``."""
    chosen = config_dir or os.environ.get(CONFIG_DIR_ENV) or "conf"
    path = Path(chosen).resolve()
    if not (path / "config.yaml").is_file():
        raise ConfigError(
            str(path),
            "",
            "no config.yaml in this folder",
            f"run from the project root, or pass --config-dir / set {CONFIG_DIR_ENV}",
        )
    return path


def compose_config(
    config_dir: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    recorded: bool = True,
) -> Config:
    """Compose and validate the whole configuration.

    Args:
        config_dir: the ``conf/`` folder (see :func:`resolve_config_dir`).
        overrides: Hydra overrides, e.g. ``["trainer=gpu", "seed=1"]``; those that start
            with ``classifiers.<node>.`` change one node's classifier definition.
        recorded: apply the overrides recorded in ``conf/overrides.yaml`` first (see
            :mod:`taxonomist.config.overrides`), ``overrides`` replacing those of the same
            key; False composes with ``overrides`` alone.

    Raises:
        ConfigError: naming the file, the dotted key and what was expected.
    """
    conf = resolve_config_dir(config_dir)
    if recorded:
        overrides = effective_overrides(conf, overrides)
    # A worker runs many stages in one process: each state of conf/ is composed once
    # (about a second at 35 nodes), and each caller gets its own copy to change.
    composed = _compose(conf, tuple(overrides), Path.cwd(), _content_digest(conf))
    return copy.deepcopy(composed)


def _content_digest(conf: Path) -> str:
    """What conf/ holds: every file's path and bytes (mtimes are too coarse to trust)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in conf.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(conf)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _compose(conf: Path, overrides: tuple[str, ...], cwd: Path, digest: str) -> Config:
    """conf/ composed with ``overrides``; ``cwd`` (messages name files relative to it)
    and ``digest`` (conf/'s content) only key the cache."""
    hydra_overrides = [o for o in overrides if not o.startswith("classifiers.")]
    node_overrides = [o.removeprefix("classifiers.") for o in overrides if o not in hydra_overrides]
    raw, choices = _hydra_compose(conf, hydra_overrides)
    project = _validate(ProjectConfig, raw, lambda key: _file_for_key(conf, key, choices))
    tax_file = _relative(conf / "taxonomy" / f"{choices.get('taxonomy', '?')}.yaml")
    taxonomy = Taxonomy.from_tree(project.taxonomy.name, project.taxonomy.tree, tax_file)
    classifiers = _load_classifiers(conf / project.classifier_dir, taxonomy, node_overrides)
    return Config(project, taxonomy, classifiers, tuple(overrides))


def _hydra_compose(conf: Path, overrides: list[str]) -> tuple[DictConfig, dict[str, str]]:
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
    except HydraException as err:
        raise ConfigError(_relative(conf / "config.yaml"), "", str(err)) from None
    choices = {k: str(v) for k, v in cfg.hydra.runtime.choices.items()}
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, choices


def _load_classifiers(
    folder: Path, taxonomy: Taxonomy, overrides: list[str]
) -> dict[str, ClassifierConfig]:
    if not folder.is_dir():
        raise ConfigError(_relative(folder), "classifier_dir", "no such folder",
                          "set classifier_dir to a folder under conf/ (default: classifiers)")
    files = {p.stem: p for p in sorted(folder.glob("*.yaml"))}
    default_yaml = _load_yaml(files.pop(DEFAULT_CLASSIFIER, None))
    _check_node_files(files, taxonomy)
    by_node: dict[str, list[str]] = {}
    for override in overrides:
        node, _, rest = override.partition(".")
        _check_node_name(node, taxonomy, f"override classifiers.{override}")
        by_node.setdefault(node, []).append(rest)
    classifiers = {}
    for node in taxonomy.inner_nodes:
        layers = [
            (folder / f"{DEFAULT_CLASSIFIER}.yaml", default_yaml),
            (files.get(node), _load_yaml(files.get(node))),
            (f"override classifiers.{node}", OmegaConf.from_dotlist(by_node.get(node, []))),
        ]
        classifiers[node] = _merge_classifier(layers)
    return classifiers


def _merge_classifier(layers: list[tuple[Path | str | None, DictConfig]]) -> ClassifierConfig:
    merged = OmegaConf.structured(ClassifierConfig)
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as err:
            raise _config_error(str(_relative(source)), ClassifierConfig, err) from None
    return OmegaConf.to_object(merged)


def _check_node_files(files: dict[str, Path], taxonomy: Taxonomy) -> None:
    for node, path in files.items():
        _check_node_name(node, taxonomy, _relative(path))


def _check_node_name(node: str, taxonomy: Taxonomy, source: str) -> None:
    if node in taxonomy.inner_nodes:
        return
    inner = ", ".join(taxonomy.inner_nodes)
    what = "a leaf class, which has no classifier" if node in taxonomy else "not in the taxonomy"
    raise ConfigError(
        source,
        "",
        f"'{node}' is {what}; classifier definitions exist only for inner nodes",
        f"use one of: {inner} (or rename the file to match the taxonomy)",
    )


def _validate(schema: type, raw: DictConfig, file_for_key) -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), raw))
    except OmegaConfBaseException as err:
        raise _config_error(file_for_key(err.full_key or ""), schema, err) from None


def _config_error(file: str, schema: type, err: OmegaConfBaseException) -> ConfigError:
    key = err.full_key or ""
    if isinstance(err, ConfigKeyError):
        valid = _keys_at(schema, key.rsplit(".", 1)[0] if "." in key else "")
        name = key.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigError(file, key, "unknown key", f"{hint}valid keys: {', '.join(valid)}")
    return ConfigError(file, key, err.msg.splitlines()[0])


def _keys_at(schema: type, dotted: str) -> list[str]:
    for part in filter(None, dotted.split(".")):
        match = [f for f in fields(schema) if f.name == part]
        if not match or not is_dataclass(match[0].default_factory()):
            return []
        schema = type(match[0].default_factory())
    return [f.name for f in fields(schema)]


def _file_for_key(conf: Path, key: str, choices: dict[str, str]) -> str:
    group = key.split(".", 1)[0]
    if group in choices:
        return _relative(conf / group / f"{choices[group]}.yaml")
    return _relative(conf / "config.yaml")


def _load_yaml(path: Path | None) -> DictConfig:
    if path is None:
        return OmegaConf.create({})
    try:
        loaded = OmegaConf.load(path)
    except Exception as err:  # yaml.YAMLError and friends: report which file
        raise ConfigError(_relative(path), "", f"not valid YAML: {err}") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(_relative(path), "", "expected a mapping of keys at the top level")
    return loaded


def _relative(path: Path | str | None) -> str:
    if not isinstance(path, Path):
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _plain(obj: Any) -> Any:
    """A validated config as plain data for YAML and JSON: enums by name (as OmegaConf's
    ``enum_to_str``), tuples as lists; 30x faster than a round trip through OmegaConf."""
    if is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.name
    if isinstance(obj, dict):
        return {_plain(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj
