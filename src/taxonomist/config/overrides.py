"""Overrides that last: ``taxonomist pipeline data=folder data.root=X`` records them.

DVC runs each stage as a fresh ``taxonomist <verb>``, which composes ``conf/`` again. An
override given once on the command line would be forgotten there, so ``taxonomist
pipeline`` writes the overrides it was given into ``conf/overrides.yaml`` (committed with
the rest of ``conf/``), and every command composes ``conf/`` *with* them
(:func:`taxonomist.config.compose_config`). The file is plain YAML a person may edit::

    # Hydra overrides recorded by `taxonomist pipeline`; every command applies them.
    overrides:
    - data=folder
    - data.root=/srv/photos

Overrides given later are merged in by key: ``data.root=Y`` replaces ``data.root=X``; a new
choice of a config group (``data=s3``) also drops the recorded settings of the old choice
(``data.root=X``); ``taxonomist pipeline --reset`` drops them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from taxonomist.contracts.files import write_text_atomic
from taxonomist.errors import ConfigError

RECORD_FILE = "overrides.yaml"
_HEADER = (
    "# Hydra overrides recorded by `taxonomist pipeline`; every taxonomist command applies\n"
    "# them on top of conf/. Edit the list (then run `taxonomist pipeline`), or drop them\n"
    "# all with `taxonomist pipeline --reset`.\n"
)


@dataclass(frozen=True)
class OverrideChange:
    """What a ``taxonomist pipeline`` call does to the recorded overrides.

    Attributes:
        result: the overrides to compose with and record, in order.
        kept: recorded ones that stay (not given again).
        replaced: recorded ones that a given override of the same key replaces.
        dropped: recorded ones dropped by ``--reset`` or by a new choice of their group.
    """

    result: tuple[str, ...]
    kept: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()

    def describe(self, record: str) -> list[str]:
        """Lines for the terminal saying what happened to the recorded overrides."""
        lines = []
        if self.kept:
            lines.append(f"keeping the overrides recorded in {record}: {' '.join(self.kept)} "
                         "(`taxonomist pipeline --reset` drops them)")
        if self.replaced:
            lines.append(f"replacing recorded overrides: {' '.join(self.replaced)}")
        if self.dropped:
            lines.append(f"dropping recorded overrides: {' '.join(self.dropped)}")
        return lines


def record_path(conf: Path) -> Path:
    """Where the overrides of the project whose ``conf/`` folder is ``conf`` are recorded."""
    return conf / RECORD_FILE


def read_recorded(conf: Path) -> tuple[str, ...]:
    """The overrides recorded in ``conf/overrides.yaml``; none when the file is absent.

    Raises:
        ConfigError: the file is not a mapping with a list of override strings, or one of
            them is not a valid Hydra override.
    """
    path = record_path(conf)
    if not path.is_file():
        return ()
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(str(path), "", f"not valid YAML: {err}") from None
    listed = loaded.get("overrides") if isinstance(loaded, dict) else None
    if not isinstance(listed, list) or not all(isinstance(o, str) for o in listed):
        raise ConfigError(str(path), "overrides", "expected a list of Hydra overrides such as "
                          "'data.root=/srv/photos'",
                          "fix the list, or delete the file to drop every recorded override")
    _keys(listed, str(path))
    return tuple(listed)


def write_recorded(conf: Path, overrides: tuple[str, ...]) -> bool:
    """Record ``overrides`` (none: remove the file); return whether the file changed."""
    path = record_path(conf)
    if not overrides:
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
    text = _HEADER + yaml.safe_dump({"overrides": list(overrides)}, sort_keys=False)
    if path.is_file() and path.read_text() == text:
        return False
    write_text_atomic(path, text)
    return True


def merge_overrides(
    conf: Path, recorded: tuple[str, ...], given: list[str], reset: bool = False
) -> OverrideChange:
    """The recorded overrides updated by the ``given`` ones, key by key.

    Args:
        conf: the ``conf/`` folder, to tell a config group (``data``) from a key.
        recorded: what ``conf/overrides.yaml`` holds.
        given: the overrides on this command line.
        reset: drop every recorded override first.

    Raises:
        ConfigError: an override is not valid Hydra syntax, or the record names a key
            twice (on the command line the last value of a key wins, as in Hydra).
    """
    given = _last_of_each_key(given)
    if reset:
        return OverrideChange(tuple(given), dropped=recorded)
    new_keys = _keys(given, "the command line")
    groups = [key for key in new_keys if (conf / key).is_dir()]
    by_key = dict(zip(_keys(recorded, str(record_path(conf))), recorded, strict=True))
    kept, replaced, dropped = [], [], []
    for key, override in by_key.items():
        if key in new_keys:
            replaced.append(override)
        elif any(key.startswith((f"{group}.", f"{group}/")) for group in groups):
            dropped.append(override)
        else:
            kept.append(override)
    return OverrideChange((*kept, *given), tuple(kept), tuple(replaced), tuple(dropped))


def effective_overrides(conf: Path, given: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What a command composes with: the recorded overrides, updated by ``given``."""
    return merge_overrides(conf, read_recorded(conf), list(given)).result


def _last_of_each_key(given: list[str]) -> list[str]:
    """``given`` with only the last override of each key, as Hydra itself would apply it."""
    keys = _parsed_keys(given, "the command line")
    last = {key: i for i, key in enumerate(keys)}
    return [override for i, override in enumerate(given) if last[keys[i]] == i]


def _keys(overrides: list[str] | tuple[str, ...], where: str) -> list[str]:
    """The key (or config group) each override sets, e.g. ``data.root``; each only once."""
    keys = _parsed_keys(overrides, where)
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ConfigError(where, twice[0], "given more than once",
                          "give each key one value")
    return keys


def _parsed_keys(overrides: list[str] | tuple[str, ...], where: str) -> list[str]:
    """The key (or config group) each override sets, in order, e.g. ``data.root``."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as err:
        raise ConfigError(where, "", str(err).splitlines()[0],
                          "an override looks like key=value, e.g. data.root=/srv/photos; quote "
                          "a value with ( ) [ ] { } or spaces in it Hydra's way: "
                          "\"data.path_pattern='(?P<label>[^/]+)/.+'\"") from None
    return [o.key_or_group + (f"@{o.package}" if o.package else "") for o in parsed]
