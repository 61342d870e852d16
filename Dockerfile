# `taxonomist serve`: the HTTP API over the stack holding @live, following it.
#   docker build -t taxonomist .                         # CPU-only torch: a small image
#   docker build --build-arg TORCH_INDEX=https://pypi.org/simple -t taxonomist:cuda .
#   docker run -p 8080:8080 --read-only --tmpfs /tmp --cap-drop ALL \
#     --security-opt no-new-privileges -e MLFLOW_TRACKING_URI=http://mlflow.internal:5000 \
#     -v /etc/taxonomist/keys.yaml:/run/secrets/taxonomist/keys.yaml:ro \
#     -e TAXONOMIST_SERVE_KEYS_FILE=/run/secrets/taxonomist/keys.yaml taxonomist
# The tracking URI (and, for S3 artifacts, AWS_* variables) come at run time; so can any
# conf/serve.yaml key, as TAXONOMIST_SERVE_<KEY> (e.g. TAXONOMIST_SERVE_WORKERS=2).
# The API keys' hashes come at run time too, never in the image: a mounted secret file
# (TAXONOMIST_SERVE_KEYS_FILE) or its text in TAXONOMIST_API_KEYS; without keys the server
# refuses to listen on 0.0.0.0 (docs/security.md). It writes only under /tmp, so the root
# filesystem can be read-only.
# tests/deploy/test_image.py runs this file's ENTRYPOINT + CMD, ENV and HEALTHCHECK.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# Where torch and torchvision come from. PyPI's torch is the CUDA build (~5 GB
# installed); the CPU-only wheels make an image several times smaller.
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/taxonomist/bin:$PATH
# The pins of pyproject.toml: with them already installed, `pip install .` keeps them.
RUN python -m venv /opt/taxonomist \
    && pip install --index-url "$TORCH_INDEX" torch==2.14.1 torchvision==0.29.1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app taxonomist
COPY --from=build /opt/taxonomist /opt/taxonomist
WORKDIR /app
COPY conf ./conf
ENV PATH=/opt/taxonomist/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    TAXONOMIST_SERVE_HOST=0.0.0.0 \
    TAXONOMIST_SERVE_PORT=8080
USER 10001:10001
EXPOSE 8080
# 200 once a stack is loaded; 503 while loading (the start period covers the first load).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['TAXONOMIST_SERVE_PORT'] + '/health', timeout=4)"]
ENTRYPOINT ["taxonomist"]
CMD ["serve"]
