"""The S3 source against moto's server on 127.0.0.1, with and without a misbehaving proxy."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Iterator

import boto3
import botocore.retries.standard
import pandas as pd
import pytest

from taxonomist.config import DataConfig, DataKind, Paths
from taxonomist.contracts.manifest import MANIFEST_COLUMNS
from taxonomist.data import S3Source, create_source, ingest
from taxonomist.data.store import Store
from taxonomist.errors import ConfigError, DataError
from taxonomist.taxonomy import Taxonomy
from tests.data.conftest import image_bytes
from tests.data.s3_server import FaultyProxy, admin_client

pytestmark = pytest.mark.usefixtures("aws_env")
BIG_KEYS, EVERY = 2001, 25  # 3 pages of listing; the manifest names every 25th key


class Bucket:
    """A bucket of tiny PNGs under ``photos/`` and their manifest, made for one test."""

    def __init__(self, endpoint: str, name: str, session: boto3.session.Session) -> None:
        self.endpoint, self.name, self.session = endpoint, name, session
        self.client = admin_client(endpoint, session)
        self.client.create_bucket(Bucket=name)
        self.blobs: dict[str, bytes] = {}

    def images(self, n: int, first_seed: int = 0) -> list[dict[str, str]]:
        """Upload ``n`` images and return their manifest rows, in order."""
        rows = []
        for i in range(n):
            path = f"{i:02d}.png"
            self.put(f"photos/{path}", image_bytes(first_seed + i))
            rows.append(row(path, ["circle", "square"][i % 2]))
        return rows

    def put(self, key: str, data: bytes) -> None:
        self.blobs[key] = data
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def put_manifest(self, rows: list[dict[str, str]], key: str = "photos/manifest.csv") -> None:
        self.client.put_object(Bucket=self.name, Key=key,
                               Body=pd.DataFrame(rows).to_csv(index=False).encode())

    def source(self, endpoint: str | None = None, **options) -> S3Source:
        options = {"workers": 4, "backoff": 0.01, "session": self.session} | options
        return S3Source(self.name, "photos", "photos/manifest.csv",
                        endpoint_url=endpoint or self.endpoint, **options)


def row(path: str, label: str, **extra: str) -> dict[str, str]:
    return {"path": path, "label": label, "source": "cam", "set_id": "", "taken_at": "",
            **extra}


def manifest_paths(paths: Paths) -> list[str]:
    return pd.read_parquet(paths.manifest)["path"].tolist()


def rejects(paths: Paths) -> pd.DataFrame:
    return pd.read_csv(paths.rejects, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    """One boto3 session for the S3 tests: a new one loads botocore's models (~0.7 s here).

    It finds the fake credentials in the environment (``aws_env``) on first use.
    """
    return boto3.session.Session()


@pytest.fixture
def bucket(moto_endpoint: str, boto_session: boto3.session.Session) -> Bucket:
    return Bucket(moto_endpoint, f"t-{uuid.uuid4().hex[:16]}", boto_session)


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(moto_endpoint).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard mode waits up to 2**attempt s between tries; these tests check
    that it retries, not how long it waits."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount",
                        lambda self, context: 0.01)


@pytest.fixture(scope="session")
def big_bucket(moto_endpoint: str, boto_session: boto3.session.Session) -> Bucket:
    """2,001 keys under photos/ (three pages of listing) and a manifest naming 81 of them.

    The objects are put straight into moto's in-process backend (2,500 HTTP uploads would
    take half a minute here); everything the code under test does goes over HTTP.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    big = Bucket(moto_endpoint, "big-bucket", boto_session)
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    rows = []
    for i in range(BIG_KEYS):
        data = image_bytes(10_000 + i)
        backend.put_object(big.name, f"photos/{i:05d}.png", data)
        if i % EVERY == 0:
            big.blobs[f"photos/{i:05d}.png"] = data
            rows.append(row(f"{i:05d}.png", ["oval", "triangle"][i % 3 % 2],
                            sha256=hashlib.sha256(data).hexdigest()))
    big.put_manifest(rows)
    return big


def test_a_bucket_of_thousands_of_keys_is_listed_page_by_page_and_a_rerun_fetches_nothing(
    big_bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths
) -> None:
    result = ingest(big_bucket.source(proxy.url), taxonomy, paths)

    assert (result.added, result.rejected) == (len(big_bucket.blobs), 0)
    assert proxy.listings() == 3, "2,001 keys come 1,000 to a page"
    manifest = pd.read_parquet(paths.manifest)
    assert list(manifest.columns) == [*MANIFEST_COLUMNS, "sha256"]
    assert manifest["path"].tolist() == [f"{i:05d}.png" for i in range(0, BIG_KEYS, EVERY)]
    last = manifest.iloc[-1]
    assert (paths.root / last["stored"]).read_bytes() == big_bucket.blobs["photos/02000.png"]
    assert manifest["phash"].str.fullmatch("[0-9a-f]{16}").all()

    mark, written = len(proxy.log), paths.manifest.stat().st_mtime_ns
    again = ingest(big_bucket.source(proxy.url), taxonomy, paths)

    assert (again.added, again.already_present, again.rejected) == (0, len(big_bucket.blobs), 0)
    assert [path for _, path, _ in proxy.log[mark:]] == ["/big-bucket/photos/manifest.csv"]
    assert paths.manifest.stat().st_mtime_ns == written


def test_a_missing_object_is_rejected_naming_its_key(
    bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths
) -> None:
    rows = bucket.images(2) + [row("gone.png", "oval")]
    bucket.put_manifest(rows)

    result = ingest(bucket.source(proxy.url), taxonomy, paths)

    assert (result.added, result.rejected) == (2, 1)
    assert rejects(paths).iloc[0].to_dict() == {
        "path": "gone.png", "label": "oval", "kind": "missing", "line": "4",
        "reason": f"s3://{bucket.name}/photos/gone.png: no such object (not in the bucket "
                  "listing)",
    }
    assert proxy.gets("photos/gone.png") == 0, "the listing settles it without a request"


def test_an_object_deleted_between_listing_and_download_is_rejected_as_missing(
    bucket: Bucket, taxonomy: Taxonomy, paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket.put_manifest(bucket.images(3))
    source = bucket.source()
    list_sizes = source._list_sizes

    def list_then_delete() -> dict[str, int]:
        sizes = list_sizes()
        bucket.client.delete_object(Bucket=bucket.name, Key="photos/01.png")
        return sizes

    monkeypatch.setattr(source, "_list_sizes", list_then_delete)
    result = ingest(source, taxonomy, paths)

    assert (result.added, result.rejected) == (2, 1)
    assert rejects(paths)["reason"].tolist() == [
        f"s3://{bucket.name}/photos/01.png: no such object (listed, then deleted before the "
        "download)"
    ]


@pytest.mark.parametrize("key", ["../secret.png", "a/../../secret.png", "/photos/00.png"])
def test_a_key_outside_the_prefix_is_rejected_without_a_request(
    key: str, bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put("secret.png", image_bytes(99))
    bucket.put_manifest(bucket.images(1) + [row(key, "oval")])

    result = ingest(bucket.source(proxy.url), taxonomy, paths)

    assert (result.added, result.rejected) == (1, 1)
    assert rejects(paths)["kind"].tolist() == ["bad_path"]
    assert proxy.gets("secret.png") == 0
    with pytest.raises(DataError, match=r"keys must stay under s3://t-\w+/photos"):
        bucket.source().read_bytes(key)


def test_a_server_answering_503_for_a_while_is_waited_out(
    bucket: Bucket, proxy: FaultyProxy, quick_retries: None, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put_manifest(bucket.images(6))
    proxy.faults.fail_first = 3

    result = ingest(bucket.source(proxy.url, max_attempts=4), taxonomy, paths)

    assert (result.added, result.rejected) == (6, 0)
    assert proxy.count("503") == 3


def test_a_server_that_keeps_answering_503_stops_the_run_keeping_what_was_stored(
    bucket: Bucket, proxy: FaultyProxy, quick_retries: None, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put_manifest(bucket.images(6))
    proxy.faults.always_503.add("photos/03.png")

    message = (rf"s3://{bucket.name}/photos/03\.png: http://127\.0\.0\.1:\d+ answered 503 "
               r"SlowDown .* 3 times in a row; rerun `taxonomist ingest` to resume")
    with pytest.raises(DataError, match=message):
        ingest(bucket.source(proxy.url, max_attempts=3), taxonomy, paths)

    assert manifest_paths(paths) == ["00.png", "01.png", "02.png"]
    assert proxy.gets("photos/03.png") == 3


def test_a_connection_reset_mid_body_is_retried_by_us(
    bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put_manifest(bucket.images(4))
    proxy.faults.cut["photos/02.png"] = 2

    result = ingest(bucket.source(proxy.url, body_attempts=3), taxonomy, paths)

    assert result.added == 4
    assert proxy.gets("photos/02.png") == 3
    stored = pd.read_parquet(paths.manifest).set_index("path").at["02.png", "stored"]
    assert (paths.root / stored).read_bytes() == bucket.blobs["photos/02.png"]


def test_botocore_alone_does_not_retry_a_reset_mid_body(
    bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put_manifest(bucket.images(2))
    proxy.faults.cut["photos/01.png"] = 1

    with pytest.raises(DataError, match=r"photos/01\.png: the download broke off 1 times in a "
                       r"row \(last: ResponseStreamingError"):
        ingest(bucket.source(proxy.url, body_attempts=1), taxonomy, paths)
    assert proxy.gets("photos/01.png") == 1


def test_a_server_that_times_out_stops_the_run_and_the_rerun_resumes(
    bucket: Bucket, proxy: FaultyProxy, quick_retries: None, taxonomy: Taxonomy, paths: Paths
) -> None:
    bucket.put_manifest(bucket.images(10))
    proxy.faults.hang.add("photos/06.png")

    message = (rf"s3://{bucket.name}/photos/06\.png: no answer from http://127\.0\.0\.1:\d+ "
               r"within 0\.3 s, 2 attempts in a row")
    with pytest.raises(DataError, match=message):
        ingest(bucket.source(proxy.url, read_timeout=0.3, max_attempts=2), taxonomy, paths)
    assert manifest_paths(paths) == [f"{i:02d}.png" for i in range(6)]

    proxy.faults.hang.clear()
    mark = len(proxy.log)
    resumed = ingest(bucket.source(proxy.url), taxonomy, paths)

    assert (resumed.added, resumed.already_present) == (4, 6)
    assert downloaded(proxy, mark) == [f"photos/{i:02d}.png" for i in range(6, 10)]
    assert manifest_paths(paths) == [f"{i:02d}.png" for i in range(10)]


def downloaded(proxy: FaultyProxy, since: int) -> list[str]:
    """Image keys GET since log entry ``since`` (not the manifest, not listings)."""
    keys = [re.sub(r"^/[^/]+/|\?.*$", "", path) for method, path, _ in proxy.log[since:]
            if method == "GET" and "list-type" not in path]
    return sorted(k for k in keys if k.endswith(".png"))


def test_an_interrupted_ingest_keeps_what_it_stored_and_resumes(
    bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket.put_manifest(bucket.images(8))
    fetch_many = S3Source.fetch_many

    def interrupted_after_three(self, keys):
        for n, item in enumerate(fetch_many(self, keys)):
            if n == 3:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(S3Source, "fetch_many", interrupted_after_three)
    with pytest.raises(KeyboardInterrupt):
        ingest(bucket.source(proxy.url), taxonomy, paths)
    monkeypatch.setattr(S3Source, "fetch_many", fetch_many)
    assert manifest_paths(paths) == ["00.png", "01.png", "02.png"]

    mark = len(proxy.log)
    result = ingest(bucket.source(proxy.url), taxonomy, paths)

    assert (result.added, result.already_present) == (5, 3)
    assert downloaded(proxy, mark) == [f"photos/{i:02d}.png" for i in range(3, 8)]


def test_a_run_killed_before_writing_the_manifest_is_recovered_from_its_journal(
    bucket: Bucket, proxy: FaultyProxy, taxonomy: Taxonomy, paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket.put_manifest(bucket.images(5))
    save = Store.save

    def killed(self) -> None:
        raise KeyboardInterrupt  # as if the machine died after the last image was stored

    monkeypatch.setattr(Store, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(bucket.source(proxy.url), taxonomy, paths)
    monkeypatch.setattr(Store, "save", save)
    assert not paths.manifest.exists() and len(list(paths.images.rglob("*.png"))) == 5

    mark = len(proxy.log)
    result = ingest(bucket.source(proxy.url), taxonomy, paths)

    assert (result.added, result.already_present, result.resumed) == (0, 5, 5)
    assert downloaded(proxy, mark) == []
    assert manifest_paths(paths) == [f"{i:02d}.png" for i in range(5)]
    assert not (paths.data / ".manifest.journal.jsonl").exists()
    assert result.summary().endswith("; 5 images stored by an interrupted run recovered")


def test_bytes_that_do_not_match_the_manifest_sha256_are_rejected(
    bucket: Bucket, taxonomy: Taxonomy, paths: Paths
) -> None:
    rows = bucket.images(2)
    rows[0]["sha256"] = hashlib.sha256(bucket.blobs["photos/00.png"]).hexdigest()
    rows[1]["sha256"] = "0" * 64
    bucket.put_manifest(rows)

    result = ingest(bucket.source(), taxonomy, paths)

    assert (result.added, result.rejected) == (1, 1)
    reason = rejects(paths).iloc[0]["reason"]
    assert re.match(rf"s3://{bucket.name}/photos/01\.png: the bytes have sha256 [0-9a-f]{{64}}, "
                    f"but the manifest's sha256 column says {'0' * 64}", reason), reason


def test_without_credentials_the_error_says_where_they_come_from(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(DataError, match=r"manifest\.csv: no AWS credentials found .* set "
                       "AWS_PROFILE .*never reads keys from conf/"):
        bucket.source(session=None).entries()


def test_a_missing_manifest_or_bucket_is_named(bucket: Bucket, moto_endpoint: str) -> None:
    with pytest.raises(DataError, match=rf"s3://{bucket.name}/photos/manifest\.csv: manifest "
                       "CSV not found; upload it there"):
        bucket.source().entries()
    with pytest.raises(DataError, match=r"s3://no-such-bucket: no such bucket at http://"):
        S3Source("no-such-bucket", "", "m.csv", endpoint_url=moto_endpoint,
                 session=bucket.session).entries()


def test_the_manifest_csv_is_read_verbatim_from_the_bucket(bucket: Bucket) -> None:
    bucket.client.put_object(Bucket=bucket.name, Key="photos/manifest.csv",
                             Body=b"path,label,source,set_id,taken_at\na.png,NA,,007,\n")
    entries = bucket.source().entries()
    assert entries.iloc[0][["label", "set_id"]].tolist() == ["NA", "007"]
    bucket.client.put_object(Bucket=bucket.name, Key="photos/manifest.csv", Body=b"path\nx\n")
    with pytest.raises(DataError, match=rf"s3://{bucket.name}/photos/manifest\.csv: missing "
                       r"column\(s\) label"):
        bucket.source().entries()


def test_the_config_picks_an_s3_source(tmp_path) -> None:
    data = DataConfig(kind=DataKind.s3, bucket="photos", prefix="/cars/2024/",
                      manifest="list.csv", endpoint_url="http://127.0.0.1:9", workers=3)
    source = create_source(data, tmp_path)
    assert isinstance(source, S3Source)
    assert (source.manifest_key, source.workers) == ("cars/2024/list.csv", 3)
    assert str(source) == "s3://photos/cars/2024/list.csv"
    assert source.describe("a/b.png") == "s3://photos/cars/2024/a/b.png"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, r"conf/data/s3\.yaml: bucket: expected a bucket name, got none"),
        ({"bucket": "s3://photos/cars"}, r"(?s)bucket: expected a bare bucket name.*data\.prefix"),
        ({"bucket": "b", "workers": 0}, r"workers: expected at least 1, got 0"),
    ],
)
def test_an_unusable_s3_config_is_refused(changes: dict, message: str, tmp_path) -> None:
    with pytest.raises(ConfigError, match=message):
        create_source(DataConfig(kind=DataKind.s3, **changes), tmp_path)


def test_read_bytes_fetches_one_object(bucket: Bucket) -> None:
    bucket.images(1)
    assert bucket.source().read_bytes("00.png") == bucket.blobs["photos/00.png"]
    with pytest.raises(FileNotFoundError, match="no such object"):
        bucket.source().read_bytes("nope.png")
    assert io.BytesIO(bucket.source().read_bytes("00.png")).read(8) == b"\x89PNG\r\n\x1a\n"
