"""Ingest's image checks under random and mutated bytes: an image passes every check, or
is rejected with a reason; nothing else ever escapes (tests/fuzzing.py)."""

from __future__ import annotations

import resource

from hypothesis import given

from taxonomist.data.images import CheckedImage, ImagePolicy, check_image
from taxonomist.data.rejects import Rejected
from tests.fuzzing import hostile_images

POLICY = ImagePolicy(max_pixels=1_000_000)
KINDS = {"format", "too_large", "unreadable"}
MEMORY_MB = 256  # far above what a 1-megapixel image decodes to, far below a bomb's


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@given(hostile_images())
def test_an_image_passes_or_is_rejected_with_a_reason(data: bytes) -> None:
    try:
        checked = check_image(data, POLICY)
    except Rejected as err:
        assert err.kind in KINDS and err.reason, err
        return
    assert isinstance(checked, CheckedImage)
    assert checked.width * checked.height <= POLICY.max_pixels


def test_checking_hostile_images_keeps_memory_bounded() -> None:
    before = max_rss_mb()
    test_an_image_passes_or_is_rejected_with_a_reason()
    assert max_rss_mb() - before < MEMORY_MB
