"""Sources without a hand-written manifest: each image's row read from its path.

A folder per class (``root/<label>/...``, torchvision's ``ImageFolder`` convention) or a
bucket prefix per class needs no manifest CSV: the source lists its files, and
``data.path_pattern``, a regular expression with named groups, says what each path means.
The default, ``(?P<label>[^/]+)/.+``, takes the label from the first folder. A pattern for
photos named ``<set>_<n>.jpg`` in class folders, grouping each car's photos in one set::

    data.path_pattern: "(?P<label>[^/]+)/(?P<set_id>[^_]+)_.*"

The groups a pattern may name are ``label`` (required), ``set_id``, ``source`` and
``taken_at``; what a pattern leaves out stays empty (``taken_at`` then comes from the
image's EXIF). A manifest CSV, when the source has one, wins: the pattern is not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

import pandas as pd
from PIL import Image

from taxonomist.config import DataConfig
from taxonomist.contracts.manifest import SOURCE_COLUMNS
from taxonomist.data.rejects import Rejected
from taxonomist.errors import ConfigError

GROUPS = ("label", "set_id", "source", "taken_at")


@dataclass(frozen=True)
class Listing:
    """How a source without a manifest CSV turns each of its files into a manifest row.

    Args:
        pattern: matched against the whole path (relative to the folder or prefix, with
            ``/`` between parts).
        suffixes: file name endings (lower case, with the dot) of the accepted formats.
        where: the config file to name in messages, e.g. ``conf/data/folder.yaml``.

    Example:
        >>> listing = Listing.from_config(DataConfig(path_pattern=r"(?P<label>[^/]+)/.+"))
        >>> row = {"path": "circle/1.png"}; listing.complete(row); row["label"]
        'circle'
    """

    pattern: re.Pattern[str]
    suffixes: frozenset[str]
    where: str

    @classmethod
    def from_config(cls, data: DataConfig) -> Listing:
        """The listing ``data.path_pattern`` and ``data.formats`` describe.

        Raises:
            ConfigError: the pattern is not a regular expression, lacks a ``label`` group,
                or names a group that is not a manifest column.
        """
        where = f"conf/data/{data.kind}.yaml"
        try:
            pattern = re.compile(data.path_pattern)
        except re.error as err:
            raise ConfigError(where, "path_pattern", f"not a regular expression: {err}",
                              r"e.g. '(?P<label>[^/]+)/.+' (the label is the first folder)"
                              ) from None
        _check_groups(pattern, where)
        return cls(pattern, image_suffixes(data.formats), where)

    def rows(self, paths: Iterable[str]) -> pd.DataFrame:
        """One row per listed file: its path, the other columns empty until :meth:`complete`."""
        frame = pd.DataFrame({"path": sorted(paths)}, columns=list(SOURCE_COLUMNS))
        return frame.fillna("")

    def complete(self, values: dict[str, str]) -> None:
        """Fill ``values`` in from what its ``path`` says.

        Raises:
            Rejected: kind ``format`` for a file whose name is not of an accepted image
                format, ``no_match`` for a path the pattern does not match.
        """
        path = values["path"]
        if PurePosixPath(path).suffix.lower() not in self.suffixes:
            raise Rejected("format", f"not an image of an accepted format by its name "
                           f"(expected one of {', '.join(sorted(self.suffixes))}); without a "
                           "manifest CSV every file under the source is listed: move it out, "
                           "or add its format to data.formats")
        match = self.pattern.fullmatch(path)
        if match is None:
            raise Rejected("no_match", f"the path does not match data.path_pattern "
                           f"{self.pattern.pattern!r} ({self.where}), which labels images "
                           "when there is no manifest CSV: put the image in a folder named "
                           "after its class, or change data.path_pattern")
        values.update(match.groupdict(default=""))


def image_suffixes(formats: Iterable[str]) -> frozenset[str]:
    """File name endings Pillow gives to ``formats``: ``{".jpg", ".jpeg", ...}`` for JPEG."""
    wanted = {f.upper() for f in formats}
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in wanted)


def is_listed(relative: PurePosixPath) -> bool:
    """Whether a listing includes this file: not hidden, nor in a hidden folder
    (``.DS_Store``, ``.git/``, ``.ipynb_checkpoints/``)."""
    return not any(part.startswith(".") for part in relative.parts)


def _check_groups(pattern: re.Pattern[str], where: str) -> None:
    names = list(pattern.groupindex)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise ConfigError(where, "path_pattern", f"unknown group(s) {', '.join(unknown)}",
                          f"a pattern may name: {', '.join(GROUPS)}")
    if "label" not in names:
        raise ConfigError(where, "path_pattern", "has no (?P<label>...) group",
                          r"e.g. '(?P<label>[^/]+)/.+' takes the label from the first folder")
