"""The registry: every check once, by a unique name, reading keys that exist."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from taxonomist.checks import registry
from taxonomist.checks.base import Check, Failure, Message
from taxonomist.checks.coverage import CLASS_COUNTS, MinImages


class _Spare(Check):
    """A check that is not registered, to register in the tests."""

    name = "spare"
    table = CLASS_COUNTS
    reads = ("min_images",)

    def expectations(self, expect: ModuleType, data: Any) -> list[Any]:
        return []

    def messages(self, failure: Failure) -> list[Message]:
        return []


def test_each_registered_check_is_found_by_its_name():
    for check in registry.CHECKS:
        assert registry.check_named(check.name) is check


def test_an_unknown_name_is_a_lookup_error_naming_the_registry():
    with pytest.raises(LookupError, match="'min_image'.*min_images.*registry.py"):
        registry.check_named("min_image")


def test_two_checks_of_one_name_are_refused():
    with pytest.raises(ValueError, match="MinImages and _Spare are both named 'min_images'"):
        registry._registered(MinImages(), type("_Spare", (_Spare,), {"name": "min_images"})())


def test_a_key_that_classifier_config_lacks_is_refused():
    misspelt = type("_Spare", (_Spare,), {"reads": ("min_image",)})
    with pytest.raises(ValueError, match="_Spare reads min_image, which ClassifierConfig"):
        registry._registered(misspelt())


def test_the_keys_read_are_each_once_in_the_order_of_the_checks():
    assert registry.classifier_keys((MinImages(), _Spare())) == ("min_images",)
    assert registry.classifier_keys() == (
        "min_images",
        "recommended_images",
        "max_imbalance",
        "max_source_share",
        "max_month_share",
        "max_split_divergence",
        "fail_on_divergence",
    )
    assert registry.params() == ("taxonomy", "split.near_duplicate_distance")

