"""``taxonomist serve``: an HTTP API over the stack holding ``@live``, following it.

``app`` (routes) > ``access`` (the bearer-key guard) > ``auth`` (keys, their hashes,
who may listen where) | ``answers`` (JSON models) | ``images`` (request bodies, ingest's
checks) | ``batching`` (concurrent requests in one forward) > ``compute`` (bounded
decoding threads, deadlines) | ``limits`` (body size, each key's rate) |
``metrics`` (Prometheus) > ``live`` (poll ``@live``, load, warm, swap) > ``errors``;
``server`` builds the app from ``conf/`` and runs uvicorn; ``settings`` is
``conf/serve.yaml``.
"""
