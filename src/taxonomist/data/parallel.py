"""Hash and check fetched images on every core, in manifest order, a window at a time.

Decoding, normalising and perceptual hashing are most of ingest's CPU time and each image
is independent, so they run in a process pool (not threads: the small-image work is
Python, under the GIL). Only a few chunks of images are in flight, so memory stays flat
however large the bucket; the bookkeeping that must see rows in order (duplicates, label
conflicts, the store) stays in the calling process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice

from taxonomist.data.images import CheckedImage, ImagePolicy, check_image
from taxonomist.data.rejects import Rejected

# Below this many images a pool's start-up (about a second) costs more than it saves.
POOL_FROM = 512
_CHUNK = 32  # images per task: small images cost less than the round trip to a worker
_CHUNKS_PER_WORKER = 4  # in flight, so workers never wait for the next chunk


@dataclass(frozen=True)
class Inspection:
    """What the bytes of one image are: their sha256 and the image, or why it is refused.

    Attributes:
        sha256: hex digest of the bytes (the image's id).
        image: the checked image, or None when ``rejected`` says why not.
        rejected: ``(kind, reason)`` of :class:`Rejected`; a tuple, because it crosses
            a process boundary.
    """

    sha256: str
    image: CheckedImage | None
    rejected: tuple[str, str] | None

    def checked(self) -> CheckedImage:
        """The image, or raise the rejection."""
        if self.image is None:
            raise Rejected(*self.rejected)
        return self.image


def inspect_bytes(data: bytes, policy: ImagePolicy) -> Inspection:
    """Hash and check one image's bytes (see :func:`~taxonomist.data.images.check_image`)."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        return Inspection(sha256, check_image(data, policy), None)
    except Rejected as rejected:
        return Inspection(sha256, None, (rejected.kind, rejected.reason))


def inspected(
    fetched: Iterable[tuple[str, bytes | OSError]], policy: ImagePolicy, expected: int
) -> Iterator[tuple[str, bytes | OSError, Inspection | None]]:
    """Each fetched ``(path, bytes or error)`` with its inspection (None for an error).

    With a pool, up to a few chunks per worker are in flight: an interrupted run has
    fetched those but not stored them, and the next run fetches them again.

    Args:
        fetched: from ``Source.fetch_many``, in manifest order.
        policy: what the checks accept.
        expected: how many items ``fetched`` will yield; a pool only for many.
    """
    workers = _cpus() if expected >= POOL_FROM else 1
    if workers < 2:
        for path, result in fetched:
            yield path, result, _inspect_chunk([result], policy)[0]
        return
    # forkserver: forking a process with threads (S3 downloads) can deadlock the child
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[tuple[list, Future]] = deque()
        items = iter(fetched)
        while chunk := list(islice(items, _CHUNK)):
            results = [result for _, result in chunk]
            pending.append((chunk, pool.submit(_inspect_chunk, results, policy)))
            if len(pending) > workers * _CHUNKS_PER_WORKER:
                yield from _finished(*pending.popleft())
        while pending:
            yield from _finished(*pending.popleft())


def _inspect_chunk(results: list[bytes | OSError], policy: ImagePolicy) -> list[Inspection | None]:
    return [inspect_bytes(r, policy) if isinstance(r, bytes) else None for r in results]


def _finished(
    chunk: list[tuple[str, bytes | OSError]], future: Future
) -> Iterator[tuple[str, bytes | OSError, Inspection | None]]:
    for (path, result), inspection in zip(chunk, future.result(), strict=True):
        yield path, result, inspection


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
