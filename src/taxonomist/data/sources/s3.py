"""The S3 source: a manifest CSV and its images in a bucket (AWS, MinIO, Ceph, moto).

Every request goes through botocore's ``standard`` retry mode (throttling, 5xx answers and
connection errors, with backoff). Two failures botocore does not retry are retried here
with tenacity: a connection that breaks in the middle of a body, and a body shorter than
its ContentLength. The prefix is listed once (paginated) before any download, so a key
the manifest names but the bucket lacks is rejected without a request; downloads run in a
bounded thread pool and come back in manifest order.

Credentials come only from the chain boto3 reads: environment variables, ``AWS_PROFILE``
and ``~/.aws``, SSO, an instance or task role. None are ever read from taxonomist's config.
"""

from __future__ import annotations

import errno
import http.client
import io
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePosixPath

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from taxonomist.data.sources.base import Source, outside_reason, read_manifest_csv
from taxonomist.data.sources.listing import Listing, is_listed
from taxonomist.errors import DataError

# What a body read raises when the connection breaks or stalls mid-body.
_BROKEN_BODY = (
    ResponseStreamingError,
    IncompleteReadError,
    ReadTimeoutError,
    ProtocolError,
    Urllib3ReadTimeoutError,
    http.client.IncompleteRead,
    ConnectionError,
)
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden"}
# Downloads queued per worker: enough to keep every worker busy while the oldest one is
# awaited (results come back in order), few enough to bound the bytes held in memory.
_QUEUED_PER_WORKER = 4
_RESUME = (
    "rerun `taxonomist ingest` to resume: images stored so far are kept and are not "
    "downloaded again"
)


def join_key(prefix: str, path: str) -> str:
    """The object key of ``path`` under ``prefix``: ``join_key("a/b/", "c.png") == "a/b/c.png"``."""
    prefix = prefix.strip("/")
    return f"{prefix}/{path}" if prefix else path


class _BrokenBody(Exception):
    """A body broke off or came short; retried here, since botocore does not."""


class S3Source(Source):
    """Images under ``s3://bucket/prefix/`` and a manifest CSV whose paths are keys under it.

    Args:
        bucket: the bucket name.
        prefix: the manifest's paths are relative to it ("" for the whole bucket).
        manifest_key: the manifest CSV's full key.
        endpoint_url: another S3-compatible store (MinIO, moto); None for AWS.
        region: None to take it from the AWS environment or profile.
        workers: downloads at once.
        max_attempts: tries per request in botocore's standard retry mode.
        read_timeout: seconds without a byte before a request counts as failed.
        connect_timeout: seconds to open a connection.
        body_attempts: tries per object when the body breaks off (our retry).
        backoff: seconds; waits between body retries are random, up to
            ``backoff * 2**attempt``.
        session: a boto3 session to make the client from (one for a named profile, say);
            None for a new one, which reads the environment and the default profile.
        listing: how to read rows from the keys when there is no manifest CSV (a prefix
            per class: ``prefix/<label>/...``); None: the CSV is required.

    Example:
        >>> source = S3Source("photos", "cars/2024", "cars/2024/manifest.csv")
        >>> ingest(source, taxonomy, paths)
    """

    refetch_recorded = False

    def __init__(
        self,
        bucket: str,
        prefix: str,
        manifest_key: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        workers: int = 8,
        max_attempts: int = 5,
        read_timeout: float = 60.0,
        connect_timeout: float = 10.0,
        body_attempts: int = 4,
        backoff: float = 0.5,
        session: boto3.session.Session | None = None,
        listing: Listing | None = None,
    ) -> None:
        self.bucket, self.prefix, self.manifest_key = bucket, prefix.strip("/"), manifest_key
        self.endpoint_url, self.workers = endpoint_url, workers
        self.max_attempts, self.read_timeout = max_attempts, read_timeout
        self.body_attempts, self.backoff = body_attempts, backoff
        config = Config(
            # total_max_attempts counts the first try; Config's max_attempts would not
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max(10, workers),
            # presigned URLs too (label export): V4, whose X-Amz-Expires says when they end
            signature_version="s3v4",
        )
        session = session or boto3.session.Session()
        self._client = session.client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
        self._sizes: dict[str, int] | None = None
        self._fallback = listing

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.manifest_key}"

    def describe(self, path: str) -> str:
        return f"s3://{self.bucket}/{join_key(self.prefix, path)}"

    def share_url(self, path: str, ttl_s: int) -> str:
        """A presigned GET URL for the object, valid ``ttl_s`` seconds (S3 allows up to 7
        days); signed locally, so each call issues a new one."""
        try:
            return self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": join_key(self.prefix, path)},
                ExpiresIn=ttl_s)
        except (ClientError, BotoCoreError) as err:
            raise self._fatal(err, self.describe(path)) from None

    def storage_uri(self, path: str) -> str:
        return self.describe(path)

    def entries(self) -> pd.DataFrame:
        where = str(self)
        try:
            body = self._download(self.manifest_key)
        except ClientError as err:
            if _code(err) in _NOT_FOUND and self._fallback is not None:
                return self._listed_entries()
            if _code(err) in _NOT_FOUND:
                raise DataError(
                    f"{where}: manifest CSV not found; upload it there, or point data.prefix "
                    "and data.manifest (conf/data/s3.yaml) at it"
                ) from None
            raise self._fatal(err, where) from None
        except (BotoCoreError, _BrokenBody) as err:
            raise self._fatal(err, where) from None
        return read_manifest_csv(io.BytesIO(body), where)

    def _listed_entries(self) -> pd.DataFrame:
        """No manifest CSV: one row per key under the prefix (a prefix per class)."""
        self._sizes = self._list_sizes()
        start = len(self.prefix) + 1 if self.prefix else 0
        keys = [PurePosixPath(key[start:]) for key in self._sizes if not key.endswith("/")]
        listed = [key.as_posix() for key in keys if is_listed(key)]
        if not listed:
            raise DataError(f"s3://{self.bucket}/{self.prefix}: no objects, and no manifest "
                            f"CSV ({self.manifest_key}); upload the images under a prefix per "
                            "class (<prefix>/<label>/...), or the manifest CSV")
        self.listing = self._fallback
        return self.listing.rows(listed)

    def read_bytes(self, path: str) -> bytes:
        result = self._fetch(path)
        if isinstance(result, OSError):
            raise result
        return result

    def fetch_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | OSError]]:
        """Download ``paths`` with ``workers`` threads; results come back in order."""
        if not paths:
            return
        if self._sizes is None:  # entries() lists the prefix when there is no manifest
            self._sizes = self._list_sizes()
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="s3-get")
        queued: deque[tuple[str, Future]] = deque()
        try:
            for path in paths:
                queued.append((path, pool.submit(self._fetch, path)))
                if len(queued) >= self.workers * _QUEUED_PER_WORKER:
                    path, future = queued.popleft()
                    yield path, future.result()
            while queued:
                path, future = queued.popleft()
                yield path, future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _list_sizes(self) -> dict[str, int]:
        """Every key under the prefix with its size, a page of (up to) 1,000 at a time."""
        prefix = f"{self.prefix}/" if self.prefix else ""
        sizes: dict[str, int] = {}
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                sizes.update((item["Key"], item["Size"]) for item in page.get("Contents", ()))
        except (ClientError, BotoCoreError) as err:
            raise self._fatal(err, f"s3://{self.bucket}/{prefix}") from None
        return sizes

    def _fetch(self, path: str) -> bytes | OSError:
        """The object's bytes, or the OSError that rejects its row.

        Raises:
            DataError: the key climbs out of the prefix, or the endpoint keeps failing
                (timeouts, 5xx, broken bodies) after every retry.
        """
        where = self.describe(path)
        reason = outside_reason(path)
        if reason:
            raise DataError(f"{path!r} {reason}; keys must stay under s3://{self.bucket}/"
                            f"{self.prefix}")
        key = join_key(self.prefix, path)
        if self._sizes is not None and key not in self._sizes:
            return FileNotFoundError(errno.ENOENT, "no such object (not in the bucket listing)")
        try:
            return self._download(key)
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                listed = self._sizes is not None
                why = "listed, then deleted before the download" if listed else "no such key"
                return FileNotFoundError(errno.ENOENT, f"no such object ({why})")
            if _code(err) in _DENIED:
                return PermissionError(errno.EACCES, "access denied to this object; check "
                                       "its ACL or the bucket policy")
            raise self._fatal(err, where) from None
        except (BotoCoreError, _BrokenBody) as err:
            raise self._fatal(err, where) from None

    def _download(self, key: str) -> bytes:
        retrying = Retrying(
            retry=retry_if_exception_type(_BrokenBody),
            stop=stop_after_attempt(self.body_attempts),
            wait=wait_random_exponential(multiplier=self.backoff, max=30),
            reraise=True,
        )
        return retrying(self._get_once, key)

    def _get_once(self, key: str) -> bytes:
        response = self._client.get_object(Bucket=self.bucket, Key=key)
        body, expected = response["Body"], response["ContentLength"]
        try:
            data = body.read()
        except _BROKEN_BODY as err:
            raise _BrokenBody(f"{type(err).__name__}: {err}") from err
        finally:
            body.close()
        if len(data) != expected:
            raise _BrokenBody(f"got {len(data)} of the {expected} bytes announced")
        return data

    def _fatal(self, err: Exception, where: str) -> DataError:
        """The error that ends the run, saying what happened at ``where`` and what to do."""
        endpoint = self.endpoint_url or "AWS"
        if isinstance(err, NoCredentialsError | PartialCredentialsError):
            return DataError(
                f"{where}: no AWS credentials found ({err}); set AWS_PROFILE to a profile in "
                "~/.aws, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an "
                "instance or task role applies (taxonomist never reads keys from conf/)"
            )
        if isinstance(err, ClientError):
            return self._client_error(err, where, endpoint)
        if isinstance(err, ConnectTimeoutError | EndpointConnectionError):
            return DataError(f"{where}: cannot connect to {endpoint} ({err}); check "
                             f"data.endpoint_url and the network, then {_RESUME}")
        if isinstance(err, ReadTimeoutError):
            return DataError(
                f"{where}: no answer from {endpoint} within {self.read_timeout:g} s, "
                f"{self.max_attempts} attempts in a row; the endpoint is down or overloaded "
                f"(data.read_timeout, data.max_attempts); {_RESUME}"
            )
        if isinstance(err, _BrokenBody):
            return DataError(f"{where}: the download broke off {self.body_attempts} times in "
                             f"a row (last: {err}); the network or endpoint is unreliable; "
                             f"{_RESUME}")
        return DataError(f"{where}: {err}; {_RESUME}")

    def _client_error(self, err: ClientError, where: str, endpoint: str) -> DataError:
        code, status = _code(err), err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = err.response.get("Error", {}).get("Message", "")
        if code == "NoSuchBucket":
            return DataError(f"s3://{self.bucket}: no such bucket at {endpoint}; check "
                             "data.bucket (and data.endpoint_url)")
        if code in _DENIED:
            profile = os.environ.get("AWS_PROFILE", "default")
            return DataError(
                f"{where}: access denied ({message}) for the credentials boto3 found (profile "
                f"{profile!r}); they need s3:ListBucket and s3:GetObject on the bucket"
            )
        return DataError(f"{where}: {endpoint} answered {status} {code} ({message}) "
                         f"{self.max_attempts} times in a row; {_RESUME}")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
