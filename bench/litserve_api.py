"""A LitServe server over the stack ``taxonomist serve`` serves: what ``bench/serve.py``
measures it against (``--servers fastapi,litserve``).

Not a product feature. Each request does the work a ``taxonomist serve`` request does,
through the same functions: :meth:`StackAPI.setup` loads the stack as a serve worker
loads it (:func:`taxonomist.serve.server.worker_parts`, ingest's image policy, torch's
threads from ``conf/serve.yaml``), :meth:`~StackAPI.decode_request` runs ingest's image
checks and decoding (:func:`taxonomist.serve.images.decode_images`),
:meth:`~StackAPI.predict` the stack's forward on LitServe's batch, and
:meth:`~StackAPI.encode_response` builds the same JSON
(:func:`taxonomist.serve.responses.predict_response`). LitServe batches with serve's
micro-batch settings (``max_batch_size = batch_max_images``, ``batch_timeout =
batch_max_wait_ms``), one inference worker and one HTTP server process, on the CPU.

What it does not do: follow ``@live`` (the version live at start-up is served until the
end), set ``X-Taxonomist-Stack-Version``, or export serve's Prometheus metrics.

Run from a project root, as ``bench/serve.py`` does::

    python -m bench.litserve_api --port 8081 --loop asyncio --http h11 [--fast-queue]

Needs litserve: ``pip install -e '.[litserve]'``.
"""

# No ``from __future__ import annotations`` here: LitServe builds its route from the
# annotation of ``decode_request``'s argument, which must be an object, not a string.

import argparse
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import litserve as ls
import numpy as np
from fastapi import Body, HTTPException

from taxonomist.data.images import bounded_decoding
from taxonomist.serve.errors import RequestError
from taxonomist.serve.images import SentImage, decode_images
from taxonomist.serve.responses import predict_response
from taxonomist.serve.server import project_from_conf, worker_parts
from taxonomist.stack.predictor import Prediction

# The raw body as bytes (FastAPI hands a body that is not JSON over as it is), so a
# client posts the same ``Content-Type: image/png`` request to both servers.
RawImage = Annotated[bytes, Body(media_type="image/png")]


class StackAPI(ls.LitAPI):
    """``POST /v1/predict``: one image as the raw body, answered as taxonomist serve does.

    Args:
        max_batch_size, batch_timeout: LitServe's batching (images, seconds).
        forwards: a file to append each forward's image count to (the bench reads it for
            images per forward); None: none.
    """

    def __init__(self, max_batch_size: int, batch_timeout: float,
                 forwards: Path | None = None) -> None:
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout,
                         api_path="/v1/predict")
        self.forwards = forwards

    def setup(self, device: str) -> None:
        config, paths, settings = project_from_conf()
        follower, self.policy = worker_parts(config, paths, settings)
        follower.refresh()  # once: LitServe has no place to keep following @live
        if follower.current is None:
            raise RuntimeError(f"no version of {follower.name} could be loaded (@live: "
                               f"{follower.live or 'not set'}): {follower.last_error}")
        self.stack = follower.current
        self._held = ExitStack()  # held for the worker's life, as taxonomist serve holds it
        self._held.enter_context(bounded_decoding(self.policy.max_pixels))
        self._log = self.forwards.open("a", buffering=1) if self.forwards else None

    def decode_request(self, request: RawImage) -> np.ndarray:
        try:
            sent = [SentImage("the image in the body", request)]
            return self.stack.model.prepare(decode_images(sent, self.policy))[0][0]
        except RequestError as err:
            raise HTTPException(err.status, err.detail) from None

    def predict(self, images: np.ndarray) -> list[Prediction]:
        if self._log is not None:
            self._log.write(f"{len(images)}\n")
        return self.stack.model.predictor.predict(images)

    def encode_response(self, prediction: Prediction) -> dict[str, Any]:
        return predict_response(self.stack, [prediction]).model_dump()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="asyncio", help="uvicorn's event loop")
    parser.add_argument("--http", default="h11", help="uvicorn's HTTP parser")
    parser.add_argument("--forwards", type=Path, help="append each forward's image count")
    parser.add_argument("--fast-queue", action="store_true",
                        help="answers over ZeroMQ (LitServe's fast_queue), not a Manager queue")
    args = parser.parse_args()
    _, _, settings = project_from_conf()
    api = StackAPI(settings.batch_max_images, settings.batch_max_wait_ms / 1000, args.forwards)
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1,
                          timeout=settings.request_timeout_s, fast_queue=args.fast_queue)
    server.run(host="127.0.0.1", port=args.port, num_api_servers=1,
               generate_client_file=False, loop=args.loop, http=args.http)


if __name__ == "__main__":
    main()
