"""Errors a user can act on. The CLI prints their message without a traceback."""

from __future__ import annotations

import difflib


class TaxonomistError(Exception):
    """Base class for every error caused by input a user can fix."""


class ConfigError(TaxonomistError):
    """A config file, key or value is wrong.

    Args:
        file: the YAML file the value came from (relative to the project).
        key: the dotted key inside that file, or "" for the whole file.
        problem: what was expected and what was found.
        hint: how to fix it, when there is something specific to say.
    """

    def __init__(self, file: str, key: str, problem: str, hint: str = "") -> None:
        self.file, self.key, self.problem, self.hint = file, key, problem, hint
        where = f"{file}: {key}" if key else file
        message = f"{where}: {problem}"
        super().__init__(f"{message}\n  hint: {hint}" if hint else message)

    @classmethod
    def unknown_key(cls, file: str, key: str, valid: list[str]) -> ConfigError:
        """``key`` is not one of ``valid``: name the closest and list them all."""
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return cls(file, key, "unknown key", f"{hint}valid keys: {', '.join(valid)}")


class DataError(TaxonomistError):
    """Input data (a manifest, an image, a split) is unusable as given."""


class StaleParamsError(TaxonomistError):
    """params.yaml / dvc.yaml no longer match conf/."""
