"""File sources on S3 (``s3://bucket/...`` paths and S3 data roots) and the object sensor."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl_assets.factory import build_definitions
from etl_assets.factory.automation import FILE_TAG
from etl_assets.lib.resources import SourceFiles
from etl_assets.lib.sources import PartitionFileNotFoundError, SourceNotFoundError, SourcePathError
from etl_assets.lib.spec import SourceSpec, parse_spec
from etl_assets_tests.servers.s3 import S3Bucket


def spec(**fields) -> SourceSpec:
    return SourceSpec.model_validate(fields)


def files(bucket: S3Bucket, root: str = "/unused-local-root") -> SourceFiles:
    return SourceFiles(root=root, s3=bucket.server.config())


def test_object_glob_and_prefix(s3_bucket: S3Bucket) -> None:
    s3_bucket.put("in/a.csv", "id,name\n1,x\n")
    s3_bucket.put("in/b.csv", "id,name\n2,y\n3,z\n")
    s3_bucket.put("in/.hidden.csv", "id,name\n9,h\n")
    s3_bucket.put("in/deeper/c.csv", "id,name\n4,w\n")
    source = files(s3_bucket)
    url = s3_bucket.url
    one = source.read(spec(format="csv", path=f"{url}/in/a.csv"), name="one")
    assert one.drop(columns="_parse_error").to_dict("records") == [
        {"id": "1", "name": "x", "_source_file": f"{url}/in/a.csv", "_source_row": 1}
    ]
    globbed = source.read(spec(format="csv", path=f"{url}/in/*.csv"), name="glob")
    assert globbed["id"].tolist() == ["1", "2", "3"]
    assert globbed["_source_file"].unique().tolist() == [f"{url}/in/a.csv", f"{url}/in/b.csv"]
    prefix = source.read(spec(format="csv", path=f"{url}/in/"), name="prefix")
    assert prefix["id"].tolist() == ["1", "2", "3"]  # the folder's own objects, hidden ones skipped
    deep = source.read(spec(format="csv", path=f"{url}/in/**/*.csv"), name="deep")
    assert sorted(deep["id"].tolist()) == ["1", "2", "3", "4"]


def test_every_format_reads_through_the_same_code(s3_bucket: S3Bucket) -> None:
    frame = pd.DataFrame({"id": [1, 2], "name": ["x", "y"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    s3_bucket.put("f/t.parquet", buffer.getvalue())
    s3_bucket.put("f/t.jsonl", '{"id": 1, "n": {"a": 1}}\n{"id": 2, "n": {"a": 2}}\n')
    s3_bucket.put("f/t.json", json.dumps({"data": [{"id": 1}, {"id": 2}]}))
    s3_bucket.put("f/t.txt", "one\n\ntwo\n")
    import gzip

    s3_bucket.put("f/t.csv.gz", gzip.compress(b"id\n1\n2\n"))
    source = files(s3_bucket)
    url = s3_bucket.url
    assert source.read(spec(format="parquet", path=f"{url}/f/t.parquet"), name="p")[
        "id"
    ].tolist() == [1, 2]
    assert source.read(spec(format="jsonl", path=f"{url}/f/t.jsonl"), name="j")["n.a"].tolist() == [
        1,
        2,
    ]
    assert source.read(
        spec(format="json", path=f"{url}/f/t.json", json={"record_path": "data"}), name="js"
    )["id"].tolist() == [1, 2]
    assert source.read(spec(format="text", path=f"{url}/f/t.txt"), name="t")["line"].tolist() == [
        "one",
        "two",
    ]
    assert source.read(spec(format="csv", path=f"{url}/f/t.csv.gz"), name="gz")["id"].tolist() == [
        "1",
        "2",
    ]


def test_partitions_missing_objects_and_escapes(s3_bucket: S3Bucket) -> None:
    s3_bucket.put("p/2024-01-01.csv", "id\n1\n")
    source = files(s3_bucket)
    partitioned = spec(format="csv", path=f"{s3_bucket.url}/p/{{partition}}.csv", partitioned=True)
    frame = source.read(partitioned, name="p", partition_keys=["2024-01-01"])
    assert frame["_partition"].tolist() == ["2024-01-01"]
    with pytest.raises(PartitionFileNotFoundError, match="partition '2024-01-02'"):
        source.read(partitioned, name="p", partition_keys=["2024-01-02"])
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        source.read(spec(format="csv", path=f"{s3_bucket.url}/nothing.csv"), name="n")
    with pytest.raises(SourcePathError, match="climbs out"):
        source.read(spec(format="csv", path=f"{s3_bucket.url}/../other/x.csv"), name="n")


def test_data_root_on_s3(s3_bucket: S3Bucket) -> None:
    s3_bucket.put("root/landing/x.csv", "id\n7\n")
    source = files(s3_bucket, root=f"{s3_bucket.url}/root")
    frame = source.read(spec(format="csv", path="landing/x.csv"), name="x")
    assert frame.drop(columns="_parse_error").to_dict("records") == [
        {"id": "7", "_source_file": "landing/x.csv", "_source_row": 1}
    ]


SENSOR_SPEC = """
pipeline: objs
partitions: {type: daily, start: 2024-01-01, end: 2024-01-11}
sources:
  events:
    format: jsonl
    path: s3://BUCKET/events/{partition}.jsonl
    partitioned: true
    sensor: true
  snapshot:
    format: csv
    path: s3://BUCKET/snapshot.csv
    sensor: true
"""


def evaluate(defs, name: str, bucket: S3Bucket, cursor: str | None) -> SensorResult:
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            cursor=cursor, instance=instance, resources={"source_files": files(bucket)}
        )
        result = defs.resolve_sensor_def(name)(context)
    assert isinstance(result, SensorResult)
    return result


def test_object_sensor_new_same_changed(s3_bucket: S3Bucket, tmp_path) -> None:
    defs = build_definitions([parse_spec(SENSOR_SPEC.replace("BUCKET", s3_bucket.name))], tmp_path)
    name = "objs_events_landing"
    empty = evaluate(defs, name, s3_bucket, None)
    assert empty.run_requests == []

    etag = s3_bucket.put("events/2024-01-02.jsonl", '{"a": 1}\n').strip('"')
    s3_bucket.put("events/2023-12-31.jsonl", '{"a": 1}\n')  # not a partition of the pipeline
    s3_bucket.put("events/readme.jsonl", '{"a": 1}\n')  # not a partition key
    new = evaluate(defs, name, s3_bucket, empty.cursor)
    assert [r.partition_key for r in new.run_requests] == ["2024-01-02"]
    url = f"{s3_bucket.url}/events/2024-01-02.jsonl"
    assert new.run_requests[0].run_key == f"{url}@etag-{etag}"
    assert new.run_requests[0].tags[FILE_TAG] == url
    assert json.loads(new.cursor)["at_high_water"] == [f"{url}@etag-{etag}"]  # S3 times are whole seconds

    same = evaluate(defs, name, s3_bucket, new.cursor)
    assert same.run_requests == [] and same.cursor == new.cursor

    s3_bucket.put("events/2024-01-02.jsonl", '{"a": 1}\n{"a": 2}\n')  # changed: new ETag
    s3_bucket.put("events/2024-01-03.jsonl", '{"a": 3}\n')
    changed = evaluate(defs, name, s3_bucket, same.cursor)
    (request,) = changed.run_requests  # one run over the contiguous range
    assert (request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        "2024-01-02",
        "2024-01-03",
    )
    assert request.run_key != new.run_requests[0].run_key
    again = evaluate(defs, name, s3_bucket, changed.cursor)
    assert again.run_requests == []


def test_unpartitioned_object_sensor_and_missing_prefix(s3_bucket: S3Bucket, tmp_path) -> None:
    defs = build_definitions([parse_spec(SENSOR_SPEC.replace("BUCKET", s3_bucket.name))], tmp_path)
    assert defs.resolve_job_def("objs_job").op_retry_policy is not None  # S3 sources: steps retried
    assert evaluate(defs, "objs_snapshot_landing", s3_bucket, None).run_requests == []
    s3_bucket.put("snapshot.csv", "id\n1\n")
    result = evaluate(defs, "objs_snapshot_landing", s3_bucket, None)
    assert [r.partition_key for r in result.run_requests] == [None]
