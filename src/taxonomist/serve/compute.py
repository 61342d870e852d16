"""Decoding off the event loop, in bounded threads, within a deadline.

A request's images are decoded in a pool of ``max_concurrency`` threads (the forward of
the stack runs in the micro-batcher's own thread, :mod:`taxonomist.serve.batching`).
Work that has not started when its deadline passes is cancelled and answered 503 (the
server is busy); work that started but did not finish is answered 504 and left to
finish in its thread, which stays counted against the pool, so a flood of slow
requests cannot make threads (or memory) grow without bound.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from taxonomist.serve.errors import RequestError

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    """``timeout_s`` (the setting, for messages) from a start, on the event loop's clock."""

    timeout_s: float
    at: float

    @classmethod
    def after(cls, timeout_s: float) -> Deadline:
        return cls(timeout_s, asyncio.get_running_loop().time() + timeout_s)

    def left(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


class BoundedPool:
    """``max_concurrency`` threads that run one request's work each."""

    def __init__(self, max_concurrency: int) -> None:
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="decode")
        self.max_concurrency = max_concurrency

    async def run(self, work: Callable[[], T], deadline: Deadline) -> T:
        """``work()``'s result, computed in a pool thread.

        Raises:
            RequestError: 503 if no thread was free before ``deadline``, 504 if the
                work took longer; either way naming ``serve.request_timeout_s``.
        """
        started = threading.Event()

        def tracked() -> T:
            started.set()
            return work()

        future = asyncio.get_running_loop().run_in_executor(self._executor, tracked)
        try:
            return await asyncio.wait_for(future, deadline.left())
        except TimeoutError:
            raise timed_out(started.is_set(), deadline, f"all {self.max_concurrency} decoding "
                            "threads stayed busy", {"max_concurrency": self.max_concurrency}
                            ) from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def timed_out(started: bool, deadline: Deadline, busy: str,
              limit: dict[str, float] | None = None) -> RequestError:
    """504 for work past its deadline; 503 for work that never started (``busy`` says why)."""
    timeout_s = deadline.timeout_s
    limit = {"request_timeout_s": timeout_s, **(limit or {})}
    if started:
        return RequestError(504, "timeout", f"the prediction took longer than "
                            f"serve.request_timeout_s ({timeout_s:g} s); send fewer or "
                            "smaller images", limit)
    return RequestError(503, "busy", f"{busy} for serve.request_timeout_s ({timeout_s:g} s); "
                        "retry later", limit)
