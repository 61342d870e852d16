"""Where ingest reads images from: a folder or an S3 bucket, made by :func:`create_source`.

Each kind of source is one module that fills in :class:`~.base.Source`'s two hooks:
:mod:`~.folder` (the sample data, or your own folder) and :mod:`~.s3` (a bucket); both
fall back on :mod:`~.listing` (rows from the paths) without a manifest CSV. The imports
point one way: ``listing`` <- ``base`` <- each source <- this factory.

Example:
    >>> source = create_source(config.project.data, paths.root)
    >>> ingest(source, config.taxonomy, paths)
"""

from __future__ import annotations

from pathlib import Path

from taxonomist.config import DataConfig, DataKind
from taxonomist.data.sources.base import Source, read_manifest_csv
from taxonomist.data.sources.folder import FolderSource
from taxonomist.data.sources.listing import Listing
from taxonomist.data.sources.s3 import S3Source, join_key
from taxonomist.errors import ConfigError

__all__ = [
    "FolderSource", "Listing", "S3Source", "Source", "create_source", "read_manifest_csv",
]


def create_source(data: DataConfig, project_root: Path) -> Source:
    """The source that ``conf/data/*.yaml`` describes.

    ``sample`` and ``folder`` read a folder: the one ``taxonomist sample`` writes, or the
    user's own; ``data.root`` is relative to the project root (or absolute). ``s3`` reads
    ``s3://data.bucket/data.prefix``, with the manifest at ``data.manifest`` under the
    prefix. Without that manifest, ``folder`` and ``s3`` list their files and read each
    row from its path by ``data.path_pattern`` (:mod:`~.listing`).

    Args:
        data: the ``data`` section of the composed config.
        project_root: what a relative ``data.root`` is relative to.

    Raises:
        ConfigError: ``s3`` without a bucket, fewer than one worker or attempt, or a
            ``data.path_pattern`` that is no regex with a ``label`` group.
    """
    if data.kind is DataKind.sample:
        return FolderSource(project_root / data.root, data.manifest)
    listing = Listing.from_config(data)
    if data.kind is DataKind.folder:
        return FolderSource(project_root / data.root, data.manifest, listing)
    _check_s3_config(data)
    return S3Source(
        data.bucket,
        data.prefix,
        join_key(data.prefix, data.manifest),
        endpoint_url=data.endpoint_url,
        region=data.region,
        workers=data.workers,
        max_attempts=data.max_attempts,
        read_timeout=data.read_timeout,
        listing=listing,
    )


def _check_s3_config(data: DataConfig) -> None:
    file = "conf/data/s3.yaml"
    if not data.bucket:
        raise ConfigError(file, "bucket", "expected a bucket name, got none",
                          "e.g. `taxonomist pipeline data=s3 data.bucket=my-photos`")
    if data.bucket.startswith("s3://") or "/" in data.bucket:
        raise ConfigError(file, "bucket", f"expected a bare bucket name, got {data.bucket!r}",
                          "put the part after the bucket name in data.prefix")
    for key in ("workers", "max_attempts"):
        if getattr(data, key) < 1:
            raise ConfigError(file, key, f"expected at least 1, got {getattr(data, key)}")
