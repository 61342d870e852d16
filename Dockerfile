# Serves the stack that holds alias @live, with MLflow's own model server.
#   docker build -t taxonomist .
#   docker run -p 8080:8080 -e MLFLOW_TRACKING_URI=http://mlflow.internal:5000 taxonomist
# The tracking URI (and, for S3 artifacts, AWS_* variables) come at run time.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    MODEL_URI=models:/digits.stack@live \
    PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY conf ./conf
RUN pip install --upgrade pip && pip install .

EXPOSE 8080
CMD ["sh", "-c", "mlflow models serve -m \"$MODEL_URI\" --env-manager local --host 0.0.0.0 --port \"$PORT\""]
