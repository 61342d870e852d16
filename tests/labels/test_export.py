"""`taxonomist label export`: a batch for Mechanical Turk and Label Studio, with image URLs
that expire after crowd.url_ttl_s (presigned against moto's S3), file URLs for a folder."""

from __future__ import annotations

import csv
import json
import time
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from taxonomist.data import S3Source
from taxonomist.errors import DataError
from taxonomist.labels.batch import Batch, Pick, export_batch, pick, write_links
from taxonomist.labels.export import export_node, refresh_batch
from tests.labels.conftest import N_IMAGES, TTL_S, DigitsProject


def mturk_rows(paths, batch: Batch) -> list[dict[str, str]]:
    with (paths.label_batches / batch.batch / "mturk_input.csv").open() as rows:
        return list(csv.DictReader(rows))


def test_a_folder_batch_links_file_urls_and_label_studio_tasks(ingested, batch) -> None:
    paths, folder = ingested
    rows = mturk_rows(paths, batch)
    assert len(rows) == 6 and {r["node"] for r in rows} == {"round"}
    assert rows[0]["classes"] == "circle|oval"
    task_paths = batch.tasks(paths.label_batches).set_index("task_id")["path"]
    assert all(r["image_url"] == (folder.root / task_paths[r["task_id"]]).resolve().as_uri()
               for r in rows)
    tasks = json.loads((paths.label_batches / batch.batch / "label_studio_tasks.json")
                       .read_text())
    assert {t["data"]["task_id"] for t in tasks} == set(task_paths.index)
    assert '<Choice value="oval"/>' in (paths.label_batches / batch.batch /
                                         "label_studio_config.xml").read_text()


def test_balanced_takes_each_label_in_turn() -> None:
    rows = pd.DataFrame({"label": ["a"] * 8 + ["b"] * 2})
    assert sorted(pick(rows, 4, Pick.balanced, "s")["label"]) == ["a", "a", "b", "b"]
    assert list(pick(rows, 4, Pick.random, "s").index) == list(pick(rows, 4, Pick.random,
                                                                      "s").index)


def test_s3_urls_expire_after_the_ttl_and_a_refresh_issues_new_ones(
    ingested, shapes, aws_env, moto_endpoint
) -> None:
    paths, _ = ingested
    source = S3Source("photos", "cars", "cars/manifest.csv", endpoint_url=moto_endpoint)
    batch = export_batch(pd.read_parquet(paths.manifest), "round", 2, Pick.balanced, shapes,
                         source, paths.label_batches, TTL_S, seed=0)
    first = mturk_rows(paths, batch)
    query = parse_qs(urlsplit(first[0]["image_url"]).query)
    assert query["X-Amz-Expires"] == [str(TTL_S)]
    assert urlsplit(first[0]["image_url"]).path.startswith("/photos/cars/")
    tasks = json.loads((paths.label_batches / batch.batch / "label_studio_tasks.json")
                       .read_text())
    assert tasks[0]["data"]["image"].startswith("s3://photos/cars/")
    time.sleep(1.1)  # a signature is dated to the second: a refresh is a later one
    write_links(batch, batch.tasks(paths.label_batches),
                S3Source("photos", "cars", "cars/manifest.csv", endpoint_url=moto_endpoint),
                paths.label_batches)
    again = mturk_rows(paths, batch)
    assert [r["task_id"] for r in again] == [r["task_id"] for r in first]
    assert again[0]["image_url"] != first[0]["image_url"]


def test_export_node_refuses_uncertain_without_a_live_stack_before_writing(
    unserved_digits: DigitsProject,
) -> None:
    unserved_digits.ingest(["six"] * N_IMAGES)
    config, paths = unserved_digits.config, unserved_digits.paths
    with pytest.raises(DataError, match="--strategy uncertain needs the live stack"):
        export_node(config, paths, "round", 3, Pick.uncertain)
    assert not paths.label_batches.exists()


def test_a_refreshed_batch_gets_its_links_written_again(unserved_digits: DigitsProject) -> None:
    unserved_digits.ingest(["six", "nine"] * (N_IMAGES // 2))
    config, paths = unserved_digits.config, unserved_digits.paths
    batch = export_node(config, paths, "round", 3, Pick.balanced)
    assert len(batch.tasks(paths.label_batches)) == 3 and batch.strategy == "balanced"
    links = paths.label_batches / batch.batch / "mturk_input.csv"
    first = links.read_text()
    links.unlink()
    assert refresh_batch(config, paths, batch.batch) == batch
    assert links.read_text() == first  # a folder's file:// URLs do not expire
    with pytest.raises(DataError, match="--refresh"):
        refresh_batch(config, paths, "no-such-batch")
