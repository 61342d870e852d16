"""The data settings only the data stages' own code can judge, checked before a run.

``taxonomist pipeline`` calls :func:`check_data_settings`, so a typo in ``data:`` or
``detect:`` fails when the pipeline is written, not an hour into `dvc repro`.
"""

from __future__ import annotations

from pathlib import Path

from taxonomist.config import Config
from taxonomist.data.corrections import Precedence
from taxonomist.data.images import ImagePolicy
from taxonomist.data.sources import Listing


def check_data_settings(config: Config, root: Path) -> None:
    """Build what ingest and detect build from ``data:`` and ``detect:``, and drop it.

    Args:
        config: the project's composed config.
        root: the project root, which ``detect.weights`` is relative to.

    Raises:
        ConfigError: an image format Pillow lacks, a data.path_pattern that is no regex
            with a label group, a data.label_precedence that names no source or one twice,
            or (with detect.enabled) an unknown detector or a missing weights file.
    """
    data = config.project.data
    ImagePolicy.from_config(data)
    Precedence.from_config(data)
    Listing.from_config(data)
    if config.project.detect.enabled:
        # torchvision's detectors, imported only for a project that detects
        from taxonomist.data.detector import DetectSettings

        DetectSettings.from_config(config.project.detect, config.taxonomy, root)
