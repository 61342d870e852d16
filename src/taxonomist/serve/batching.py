"""Micro-batching: the images of concurrent requests predicted in one forward of the stack.

Each request's decoded images join a queue; one task takes them out in batches and runs
each batch as one :meth:`StackPredictor.predict` in the forward thread, then hands every
request its own rows. A batch is closed as soon as it holds ``batch_max_images`` images,
or no other request is on its way (its body being read or decoded), or
``batch_max_wait_ms`` after it was opened. So a lone request never waits for company,
and under load a batch fills while the previous forward runs.

Requests answered by different stacks (a swap happened between them) are never mixed:
each stack's requests get a forward of their own, so an answer names the stack that
computed it. The predictor computes every image independently (eval mode), so a batched
answer is the answer the request would get alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from taxonomist.serve.compute import Deadline, timed_out
from taxonomist.serve.errors import RequestError
from taxonomist.serve.live import ServedStack
from taxonomist.stack.predictor import Prediction


@dataclass(eq=False)
class _Queued:
    """One request's images waiting for a forward; ``taken`` once a forward has them."""

    stack: ServedStack
    images: np.ndarray
    answer: asyncio.Future[list[Prediction]]
    taken: bool = False


class MicroBatcher:
    """Groups the images of concurrent requests into forwards of the stack.

    Args:
        max_images: images in one forward (a request with more is a forward of its own).
        max_wait_s: how long an open batch waits for requests still on their way.
        max_queued: images waiting at once; a request past it is refused (503).
        on_forward: called with the number of images of each forward (metrics).
    """

    def __init__(self, max_images: int, max_wait_s: float, max_queued: int,
                 on_forward: Callable[[int], None] = lambda images: None) -> None:
        self.max_images, self.max_wait_s, self.max_queued = max_images, max_wait_s, max_queued
        self.on_forward = on_forward
        self._queue: deque[_Queued] = deque()
        self._queued_images = 0
        self._arriving = 0  # requests inside the route that have not queued yet
        self._changed: asyncio.Event | None = None  # made in the loop that runs the batches
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="forward")
        self._task: asyncio.Task[None] | None = None

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Around reading and decoding a request: an open batch may wait for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            self._wake()

    async def predict(self, stack: ServedStack, images: np.ndarray,
                      deadline: Deadline) -> list[Prediction]:
        """The predictions of ``stack`` for ``images``, computed in some batch.

        Raises:
            RequestError: 503 if the queue is full, or no forward took the images
                before ``deadline``; 504 if their forward did not end by then.
        """
        if self._queued_images + len(images) > self.max_queued:
            raise RequestError(503, "busy", f"{self._queued_images:,} images are already "
                               f"waiting, the most serve.batch_max_queued "
                               f"({self.max_queued:,}) allows; retry later",
                               {"batch_max_queued": self.max_queued})
        queued = _Queued(stack, images, asyncio.get_running_loop().create_future())
        self._requeue(queued, first=False)
        try:  # on timeout wait_for cancels the answer, so no batch takes it any more
            return await asyncio.wait_for(queued.answer, deadline.left())
        except TimeoutError:
            raise timed_out(queued.taken, deadline, "the stack stayed busy with earlier "
                            "requests") from None

    def start(self) -> None:
        """Form and run batches in a task of the running loop, until :meth:`stop`."""
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            for stack, group in _by_stack(batch):
                self.on_forward(sum(len(q.images) for q in group))
                try:
                    found = await loop.run_in_executor(self._thread, _forward, stack, group)
                except Exception as err:  # answered as each request's error (a 500)
                    found = dict.fromkeys(group, err)
                _settle(found)

    async def _next_batch(self) -> list[_Queued]:
        """The next batch: waits for a first request, then for company while it may."""
        batch, images = [], 0
        deadline = None
        loop = asyncio.get_running_loop()
        while images < self.max_images:
            queued = self._pop_waiting()
            if queued is not None:
                if batch and images + len(queued.images) > self.max_images:
                    self._requeue(queued, first=True)  # it opens the next batch
                    break
                batch.append(queued)
                images += len(queued.images)
                deadline = deadline or loop.time() + self.max_wait_s
                continue
            if batch and (self._arriving == 0 or loop.time() >= deadline):
                break
            self._changed.clear()
            wait = None if not batch else deadline - loop.time()
            try:  # for a request to queue or to give up arriving
                await asyncio.wait_for(self._changed.wait(), wait)
            except TimeoutError:
                break
        for queued in batch:
            queued.taken = True
        return batch

    def _requeue(self, queued: _Queued, first: bool) -> None:
        if first:
            self._queue.appendleft(queued)
        else:
            self._queue.append(queued)
        self._queued_images += len(queued.images)
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _pop_waiting(self) -> _Queued | None:
        """The oldest request still waiting; those that timed out are dropped."""
        while self._queue:
            queued = self._queue.popleft()
            self._queued_images -= len(queued.images)
            if not queued.answer.done():
                return queued
        return None


def _by_stack(batch: list[_Queued]) -> list[tuple[ServedStack, list[_Queued]]]:
    """The batch split by the stack each request was given (one group but across a swap)."""
    groups: dict[int, tuple[ServedStack, list[_Queued]]] = {}
    for queued in batch:
        groups.setdefault(id(queued.stack), (queued.stack, []))[1].append(queued)
    return list(groups.values())


def _forward(stack: ServedStack, group: list[_Queued]) -> dict[_Queued, list[Prediction]]:
    """One predict over the group's images, split back into each request's rows."""
    predictions = stack.model.predictor.predict(np.concatenate([q.images for q in group]))
    found, start = {}, 0
    for queued in group:
        found[queued] = predictions[start:start + len(queued.images)]
        start += len(queued.images)
    return found


def _settle(found: dict[_Queued, list[Prediction] | Exception]) -> None:
    for queued, answer in found.items():
        if queued.answer.done():  # a request past its deadline no longer waits
            continue
        if isinstance(answer, Exception):
            queued.answer.set_exception(answer)
        else:
            queued.answer.set_result(answer)
