"""Checks of the stopping keys that a field's type alone cannot make: ranges, agreement."""

from __future__ import annotations

from taxonomist.config.compose import Config
from taxonomist.config.paths import Paths
from taxonomist.errors import ConfigError


def check_stopping(config: Config, paths: Paths) -> None:
    """Raise unless every node's ``threshold`` and ``stopping`` keys make sense.

    ``threshold`` and ``ancestor_weight`` are in [0, 1]; ``stopping.target_precision`` a
    share in (0, 1] (it wins over ``threshold`` when set); ``stopping.confidence`` in
    (0, 1); and ``stopping.decoding`` is one choice for the whole stack, so every node
    must agree.

    Raises:
        ConfigError: naming the node's file, the key, the value and what to write.
    """
    folder = config.project.classifier_dir
    for node, classifier in config.classifiers.items():
        source, stopping = paths.classifier_source(node, folder), classifier.stopping
        _in_range(source, "threshold", classifier.threshold, 0.0, 1.0, closed_low=True)
        if classifier.ancestor_weight is not None:
            _in_range(source, "ancestor_weight", classifier.ancestor_weight, 0.0, 1.0,
                      closed_low=True)
        if stopping.target_precision is not None:
            _in_range(source, "stopping.target_precision", stopping.target_precision, 0.0, 1.0)
        if stopping.unfamiliar_quantile is not None:
            _in_range(source, "stopping.unfamiliar_quantile", stopping.unfamiliar_quantile,
                      0.0, 1.0)
        if stopping.confidence is not None:
            _in_range(source, "stopping.confidence", stopping.confidence, 0.0, 1.0,
                      closed_high=False)
    decodings = {node: c.stopping.decoding for node, c in config.classifiers.items()}
    root = config.taxonomy.root
    for node, decoding in decodings.items():
        if decoding != decodings[root]:
            raise ConfigError(
                paths.classifier_source(node, folder), "stopping.decoding",
                f"'{decoding}' here but '{decodings[root]}' at the root '{root}': the "
                "decoding picks the answer for the whole stack",
                f"set stopping.decoding once, in conf/{folder}/_default.yaml",
            )


def _in_range(
    source: str, key: str, value: float, low: float, high: float,
    closed_low: bool = False, closed_high: bool = True,
) -> None:
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    if not (above and below):
        interval = f"{'[' if closed_low else '('}{low}, {high}{']' if closed_high else ')'}"
        raise ConfigError(source, key, f"expected a number in {interval}, got {value}",
                          "a share of images, e.g. 0.99" if "precision" in key else "")
