"""The data stages: sample, ingest, split and cache, and the sources ingest reads.

Each stage is a plain function of typed config and :class:`~taxonomist.config.Paths`::

    write_sample(data, seed, out_dir)        # scikit-learn digits -> a source folder
    ingest(create_source(data, root), taxonomy, paths, ImagePolicy.from_config(data),
           Precedence.from_config(data))     # -> manifest.parquet, images/, rejects.csv,
                                             #    label_history.parquet
    split(split_config, seed, paths)         # -> splits.parquet (test frozen)
    build_cache(taxonomy, image_sizes, paths)  # -> cache/<node>/<split>.npy + .parquet
"""

from taxonomist.data.cache import INDEX_COLUMNS, build_cache
from taxonomist.data.corrections import Precedence
from taxonomist.data.images import ImagePolicy
from taxonomist.data.ingest import IngestResult, ingest
from taxonomist.data.manifest import read_manifest
from taxonomist.data.rejects import REJECT_COLUMNS
from taxonomist.data.sample import write_sample
from taxonomist.data.sources import (
    FolderSource,
    S3Source,
    Source,
    create_source,
    read_manifest_csv,
)
from taxonomist.data.split import SPLIT_COLUMNS, split

__all__ = [
    "INDEX_COLUMNS",
    "REJECT_COLUMNS",
    "SPLIT_COLUMNS",
    "FolderSource",
    "ImagePolicy",
    "IngestResult",
    "Precedence",
    "S3Source",
    "Source",
    "build_cache",
    "create_source",
    "ingest",
    "read_manifest",
    "read_manifest_csv",
    "split",
    "write_sample",
]
