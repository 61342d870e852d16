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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
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
        image: the checked image; None when refused, or when the bytes were recorded
            before this run and so were not checked again.
        rejected: ``(kind, reason)`` of :class:`Rejected`; a tuple, because it crosses
            a process boundary.
    """

    sha256: str
    image: CheckedImage | None = None
    rejected: tuple[str, str] | None = None

    def checked(self) -> CheckedImage:
        """The image, or raise the rejection."""
        if self.rejected is not None:
            raise Rejected(*self.rejected)
        if self.image is None:
            raise RuntimeError(f"{self.sha256} was recorded before this run and not checked")
        return self.image


def inspected(
    fetched: Iterable[tuple[str, bytes | OSError]],
    policy: ImagePolicy,
    expected: int,
    known: Callable[[str], bool],
) -> Iterator[tuple[str, bytes | OSError, Inspection | None]]:
    """Each fetched ``(path, bytes or error)`` with its inspection (None for an error).

    Bytes are hashed here; only those ``known`` does not recognise are decoded and checked,
    so a rerun over a folder costs a read and a hash per image. With a pool, up to a few
    chunks per worker are in flight: an interrupted run has fetched those but not stored
    them, and the next run fetches them again.

    Args:
        fetched: from ``Source.fetch_many``, in manifest order.
        policy: what the checks accept.
        expected: how many items ``fetched`` will yield; a pool only for many.
        known: whether bytes with this sha256 were recorded before (need no check).
    """
    workers = _cpus() if expected >= POOL_FROM else 1
    # forkserver: forking a process with threads (S3 downloads) can deadlock the child
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
            if workers > 1 else None)
    in_flight = workers * _CHUNKS_PER_WORKER if pool else 0
    with pool or nullcontext():
        pending: deque[tuple[list, list[str | None], list[bool], Future]] = deque()
        items = iter(fetched)
        while chunk := list(islice(items, _CHUNK if pool else 1)):
            hashes = [_sha256(result) for _, result in chunk]
            due = [h is not None and not known(h) for h in hashes]
            datas = [r for (_, r), d in zip(chunk, due, strict=True) if d]
            pending.append((chunk, hashes, due, _checks(pool, datas, policy)))
            if len(pending) > in_flight:
                yield from _finished(*pending.popleft())
        while pending:
            yield from _finished(*pending.popleft())


def _sha256(result: bytes | OSError) -> str | None:
    return hashlib.sha256(result).hexdigest() if isinstance(result, bytes) else None


def _checks(pool: ProcessPoolExecutor | None, datas: list[bytes], policy: ImagePolicy) -> Future:
    if pool is not None:
        return pool.submit(check_all, datas, policy)
    done: Future = Future()
    done.set_result(check_all(datas, policy))
    return done


def check_all(
    datas: list[bytes], policy: ImagePolicy
) -> list[CheckedImage | tuple[str, str]]:
    """Each image checked, or its rejection as ``(kind, reason)``."""
    results = []
    for data in datas:
        try:
            results.append(check_image(data, policy))
        except Rejected as rejected:
            results.append((rejected.kind, rejected.reason))
    return results


def _finished(
    chunk: list[tuple[str, bytes | OSError]], hashes: list[str | None], due: list[bool],
    checks: Future,
) -> Iterator[tuple[str, bytes | OSError, Inspection | None]]:
    """The chunk's items with their inspections, once its checks are back."""
    outcomes = iter(checks.result())
    for (path, result), sha256, checked in zip(chunk, hashes, due, strict=True):
        yield path, result, _inspection(sha256, next(outcomes) if checked else None)


def _inspection(
    sha256: str | None, outcome: CheckedImage | tuple[str, str] | None
) -> Inspection | None:
    if sha256 is None:
        return None
    if isinstance(outcome, tuple):
        return Inspection(sha256, rejected=outcome)
    return Inspection(sha256, image=outcome)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
