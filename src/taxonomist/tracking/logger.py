"""An MLflow logger that keeps training through a tracking-server outage.

Lightning's ``MLFlowLogger`` sends every call at once, and MLflow's HTTP client retries a
refused connection for minutes before raising — so a restarting server stalls training
and then kills it. :class:`BufferedMLFlowLogger` queues params and metrics (with the time
they were logged), sends them in ``log_batch`` calls whenever the server answers, and
only :meth:`~BufferedMLFlowLogger.flush`, called after training, retries (with tenacity)
and fails the stage — with a message saying what was not sent and how to send it.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning_fabric.utilities.logger import _add_prefix, _convert_params, _flatten_dict
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from pytorch_lightning.loggers import MLFlowLogger
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from taxonomist.errors import TaxonomistError
from taxonomist.tracking.client import open_store, tracking_at

RETRY_ENV = "TAXONOMIST_MLFLOW_RETRY_S"  # how long flush() keeps trying after training
DEFAULT_RETRY_S = 300.0
MAX_METRICS, MAX_PARAMS = 1000, 100  # MLflow's log_batch limits
# Error codes that mean "the server answered and said no": retrying cannot help.
_PERMANENT = {
    "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS",
    "INVALID_STATE", "PERMISSION_DENIED", "UNAUTHENTICATED", "BAD_REQUEST",
}
_STATUS = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED"}


class TrackingWarning(UserWarning):
    """MLflow could not be reached during training; values are buffered."""


class TrackingUnavailableError(TaxonomistError):
    """Training finished but its params/metrics could not be sent to MLflow."""


def retry_window_s() -> float:
    """Seconds ``flush`` keeps retrying: ``$TAXONOMIST_MLFLOW_RETRY_S``, default 300."""
    return float(os.environ.get(RETRY_ENV, DEFAULT_RETRY_S))


class BufferedMLFlowLogger(MLFlowLogger):
    """``MLFlowLogger`` that buffers while MLflow is unreachable and never stalls training.

    Args:
        spool: where :meth:`flush` saves values it could not send, and where a later
            logger picks them up (continuing the same run when the first had none).
        request_timeout_s: timeout of one HTTP request while training (no retries then:
            a failed send just waits for the next log call after a growing pause).
        ensure_experiment: makes the experiment as we want it (tagged) and returns its id;
            called on the first send, so an unreachable MLflow is an outage like any other
            (without it, Lightning makes the experiment bare, warning that it was missing).
        **kwargs: passed to ``MLFlowLogger`` (``run_id=`` continues an existing run).
    """

    def __init__(
        self, *, spool: Path | None = None, request_timeout_s: float = 10.0,
        ensure_experiment: Callable[[], str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._ensure_experiment = ensure_experiment
        open_store(self._tracking_uri)  # parallel node jobs may meet a new sqlite store
        self._params: dict[str, Param] = {}  # by key: a batch must not repeat one
        self._metrics: list[Metric] = []
        self._status: str | None = None
        self._reopen = self._run_id is not None  # mark a resumed run RUNNING again
        self._spool, self._timeout = spool, request_timeout_s
        self._retry_at, self._pause, self._down_since = 0.0, 1.0, None
        self._load_spool()

    @property
    @rank_zero_experiment
    def experiment(self) -> MlflowClient:
        """The client; creates the run if MLflow answers, and never raises if it does not
        (Lightning touches this before training starts)."""
        if not self._initialized:
            self._send_if_due()
        return self._mlflow_client

    @property
    def known_run_id(self) -> str | None:
        """The run id if the run exists already; unlike ``run_id``, never contacts MLflow."""
        return self._run_id

    @property
    def version(self) -> str | None:  # the progress bar asks this on every refresh
        return self._run_id

    @property
    def name(self) -> str | None:
        return self._experiment_id or self._experiment_name

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Any) -> None:
        flat = _flatten_dict(_convert_params(params))
        self._params |= {k: Param(key=k, value=str(v)[:250]) for k, v in flat.items()}
        self._send_if_due()

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        now = int(time.time() * 1000)
        for key, value in _add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR).items():
            if not isinstance(value, str):
                key = re.sub("[^a-zA-Z0-9_/. -]+", "", key)
                self._metrics.append(Metric(key, float(value), now, step or 0))
        self._send_if_due()

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        self._status = _STATUS.get(status, status)
        self._send_if_due()

    @rank_zero_only
    def flush(self, hint: str = "") -> None:
        """Send everything still buffered (creating the run if needed), retrying for
        :func:`retry_window_s` seconds while the server cannot be reached.

        Raises:
            TrackingUnavailableError: with what was not sent; it is saved to the spool.
        """
        window = retry_window_s()
        retrying = Retrying(
            stop=stop_after_delay(window), wait=wait_exponential(multiplier=0.5, max=15),
            retry=retry_if_exception(_transient), reraise=True,
        )
        try:
            retrying(self._send)
        except Exception as err:  # MLflow and requests raise many types
            self._save_spool()
            raise TrackingUnavailableError(self._failure(err, window, hint)) from err

    def _send_if_due(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        try:
            self._send()
        except Exception as err:  # never let tracking kill training; flush() reports
            self._note_outage(err)
            return
        if self._down_since is not None:
            warnings.warn(f"MLflow at {self._tracking_uri} is reachable again; sent the "
                          "buffered values", TrackingWarning, stacklevel=3)
        self._down_since, self._pause = None, 1.0

    def _send(self) -> None:
        with _fail_fast(self._timeout):
            client = self._open_run()
            while self._params:
                batch = list(self._params.values())[:MAX_PARAMS]
                client.log_batch(self._run_id, params=batch)
                for param in batch:
                    del self._params[param.key]
            while self._metrics:
                client.log_batch(self._run_id, metrics=self._metrics[:MAX_METRICS])
                del self._metrics[:MAX_METRICS]
            if self._status:
                client.set_terminated(self._run_id, self._status)
                self._status = None
        if self._spool is not None:
            self._spool.unlink(missing_ok=True)

    def _open_run(self):
        if self._reopen:
            try:
                self._mlflow_client.update_run(self._run_id, status="RUNNING")
            except Exception as err:  # deleted meanwhile: log to a new run instead
                if _transient(err):
                    raise
                warnings.warn(f"cannot continue MLflow run {self._run_id} ({_short(err)}); "
                              "logging to a new run", TrackingWarning, stacklevel=4)
                self._run_id = None
            self._reopen = False
        if self._experiment_id is None and self._ensure_experiment is not None:
            self._experiment_id = self._ensure_experiment()
        with tracking_at(self._tracking_uri):  # Lightning sets (and exports) it for good
            return MLFlowLogger.experiment.fget(self)  # creates the run (and the experiment)

    def _note_outage(self, err: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            what = "cannot be reached" if _transient(err) else "refused a request"
            warnings.warn(
                f"MLflow at {self._tracking_uri} {what} ({_short(err)}); training goes on "
                "and params/metrics are buffered until they can be sent",
                TrackingWarning, stacklevel=3,
            )
        self._retry_at = time.monotonic() + self._pause
        self._pause = min(self._pause * 2, 30.0)

    def _failure(self, err: Exception, window: float, hint: str) -> str:
        run = self._run_id or "(not created yet)"
        what = (f"cannot be reached after retrying for {window:.0f} s" if _transient(err)
                else "rejected the values")
        kept = f"; saved them to {self._spool}" if self._spool else ""
        message = (f"MLflow at {self._tracking_uri} {what} ({_short(err)}): {len(self._metrics)} "
                   f"metric values and {len(self._params)} params of run {run} were not "
                   f"logged{kept}")
        return f"{message}\n  hint: {hint}" if hint else message

    def _save_spool(self) -> None:
        if self._spool is None:
            return
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "run_id": self._run_id,
            "params": [[p.key, p.value] for p in self._params.values()],
            "metrics": [[m.key, m.value, m.timestamp, m.step] for m in self._metrics],
        }
        temp = self._spool.with_name(self._spool.name + ".tmp")
        temp.write_text(json.dumps(record))
        os.replace(temp, self._spool)

    def _load_spool(self) -> None:
        if self._spool is None or not self._spool.is_file():
            return
        record = json.loads(self._spool.read_text())
        spooled_run = record.get("run_id")
        if spooled_run and self._run_id not in (None, spooled_run):
            warnings.warn(f"{self._spool} holds values of run {spooled_run}, not of run "
                          f"{self._run_id}; dropping them", TrackingWarning, stacklevel=3)
            self._spool.unlink()
            return
        if spooled_run and self._run_id is None:
            self._run_id, self._reopen = spooled_run, True
        self._params = {k: Param(k, v) for k, v in record["params"]} | self._params
        self._metrics = [Metric(k, v, t, s) for k, v, t, s in record["metrics"]]


@contextmanager
def _fail_fast(timeout_s: float) -> Iterator[None]:
    """No hidden retries in MLflow's HTTP client: this logger decides when to retry."""
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
             "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(timeout_s)))}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _transient(err: BaseException) -> bool:
    return getattr(err, "error_code", None) not in _PERMANENT


def _short(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:160]}"
