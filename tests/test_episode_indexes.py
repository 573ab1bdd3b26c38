"""Indexes built before anyone waits: the core call, `podclips index`, the Dagster asset and
the new-episode sensor that requests it first; real MongoDB server, S3 over HTTP, FFmpeg."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from podclips_dagster.cli import main
from podclips_dagster.core.episode_indexes import index_episode
from podclips_dagster.core.errors import EpisodeNotFound
from podclips_dagster.core.spec import episode_id_from_partition_key, episode_partition_key
from podclips_dagster.defs.demand.sensors import new_episode_sensor
from podclips_dagster.defs.indexes.assets import audio_frame_indexes
from podclips_dagster.defs.indexes.jobs import (
    audio_frame_indexes_job,
    register_episode_partitions_job,
)
from podclips_dagster.defs.indexes.partitions import AUDIO_FRAME_INDEXES_PARTITIONS_NAME
from tests.sensor_harness import register, tick

MAX_BYTES_30S = 600_000


def counting_reads(service, monkeypatch) -> list[int]:
    """Bytes the source bucket serves, per read, as S3 sends them."""
    served = []
    bucket_type = type(service.storage.bucket(service.settings.source_bucket))
    read_range, iter_chunks = bucket_type.read_range, bucket_type.iter_chunks

    def counted_range(self, key, start, end):
        data = read_range(self, key, start, end)
        served.append(len(data))
        return data

    def counted_chunks(self, key, chunk_size=1 << 20):
        for chunk in iter_chunks(self, key, chunk_size):
            served.append(len(chunk))
            yield chunk

    monkeypatch.setattr(bucket_type, "read_range", counted_range)
    monkeypatch.setattr(bucket_type, "iter_chunks", counted_chunks)
    return served


def test_after_indexing_the_first_vbr_cut_reads_only_its_window(service, seed_episode,
                                                                 monkeypatch):
    seed_episode("ep-vbr", minutes=5, kind="mp3-vbr")
    seed_episode("ep-cold", minutes=5, kind="mp3-vbr")
    served = counting_reads(service, monkeypatch)
    summary = index_episode(service, "ep-vbr")
    assert (summary["kind"], summary["strategy"]) == ("frame-index", "ranged-frame-index")
    assert summary["bytes_read"] >= sum(served) > 1_000_000  # the whole file, once, here
    assert summary["entries"] > 5 * 60 * 38 and summary["stored_bytes"] < 5_000
    cuts = [service.ensure_clip("ep-vbr", chunk) for chunk in (4, 2, 7)]
    assert all(c.strategy == "ranged-frame-index" for c in cuts)
    assert cuts[0].bytes_read <= MAX_BYTES_30S
    assert cuts[0].bytes_read <= 1.1 * max(c.bytes_read for c in cuts[1:])
    cold = service.ensure_clip("ep-cold", 4)  # not indexed: its first cut streams the file
    assert cold.bytes_read > 5 * cuts[0].bytes_read


@pytest.mark.parametrize("kind, expected", [
    ("mp3-cbr", ("cbr-layout", "ranged-cbr")), ("m4a", ("sample-table", "mp4-sample-table"))])
def test_cbr_and_m4a_get_their_own_record_and_a_second_call_reuses_it(service, seed_episode,
                                                                      kind, expected):
    seed_episode("ep-x", minutes=2, kind=kind)
    first = index_episode(service, "ep-x")
    assert (first["kind"], first["strategy"], first["reused"]) == (*expected, False)
    assert first["duration_seconds"] == pytest.approx(120, abs=0.05)
    assert first["bytes_read"] < 100_000  # headers (and the moov box), never the media
    again = index_episode(service, "ep-x")
    assert (again["reused"], again["bytes_read"]) == (True, 0)
    assert service.ensure_clip("ep-x", 1).strategy == expected[1]


def test_unknown_episode_is_episode_not_found(service):
    with pytest.raises(EpisodeNotFound):
        index_episode(service, "no-such-episode")


@pytest.mark.parametrize("episode_id", ["plain-guid", "substack:post:1", "a/b..c,d|[e]%",
                                        "ünï cödé"])
def test_episode_partition_keys_round_trip(episode_id):
    key = episode_partition_key(episode_id)
    assert episode_id_from_partition_key(key) == episode_id
    assert not any(bad in key for bad in ("...", ",", "|", "[", "]"))


def test_cli_index_prints_json_and_exits_2_for_an_unknown_episode(settings, seed_episode,
                                                                   monkeypatch, capsys):
    seed_episode("substack:post:77", minutes=1, kind="mp3-vbr")
    for name, value in {"MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db,
                        "PODCLIPS_STORAGE": "s3", "S3_ENDPOINT_URL": settings.s3_endpoint_url,
                        "S3_SOURCE_BUCKET": settings.source_bucket,
                        "S3_CLIPS_BUCKET": settings.clips_bucket}.items():
        monkeypatch.setenv(name, value)
    assert main(["index", "substack:post:77"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["episode_id"], out["kind"], out["reused"]) == ("substack:post:77",
                                                               "frame-index", False)
    assert out["entries"] > 0 and out["bytes_read"] > 0 and out["stored_bytes"] > 0
    assert main(["index", "no-such-episode"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "episode_not_found" in captured.err
    assert "no-such-episode" in captured.err and "Traceback" not in captured.err


def test_asset_materializes_the_index_with_its_summary(service, resource, seed_episode):
    seed_episode("flightcast:abc/def", minutes=2, kind="m4a")
    key = episode_partition_key("flightcast:abc/def")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME, [key])
        result = dg.materialize([audio_frame_indexes], instance=instance, partition_key=key,
                                resources={"clip_service": resource})
        assert result.success
        (mat,) = result.asset_materializations_for_node("audio_frame_indexes")
        meta = {k: v.value for k, v in mat.metadata.items()}
        assert mat.partition == key
        assert (meta["kind"], meta["strategy"], meta["episode_id"]) == (
            "sample-table", "mp4-sample-table", "flightcast:abc/def")
        assert meta["entries"] > 0 and meta["stored_bytes"] > 0
    assert service.ensure_clip("flightcast:abc/def", 2).strategy == "mp4-sample-table"


def test_asset_fails_with_the_reason_for_an_unknown_episode(resource):
    key = episode_partition_key("gone-episode")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME, [key])
        result = dg.materialize([audio_frame_indexes], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "gone-episode" in failure.step_failure_data.error.message


def test_new_episode_sensor_requests_indexing_first(service, resource, seed_episode):
    for guid in ("ep-new-1", "ep-new-2"):
        seed_episode(guid, minutes=1, kind="mp3-vbr")
        service.catalogue.episodes.update_one(
            {"guid": guid}, {"$set": {"published_at": datetime.now(UTC)
                                      - timedelta(minutes=5)}})
    with dg.instance_for_test() as instance:
        first = tick(new_episode_sensor, instance, resource)
        register(instance, first)
        again = tick(new_episode_sensor, instance, resource)  # re-evaluated: nothing new
    index_run = first.run_requests[0]
    assert index_run.job_name == "audio_frame_indexes_job"
    assert (index_run.tags["dagster/asset_partition_range_start"],
            index_run.tags["dagster/asset_partition_range_end"]) == ("ep-new-1", "ep-new-2")
    assert all(r.job_name == "audio_clips_job" for r in first.run_requests[1:])
    request = first.dynamic_partitions_requests[0]
    assert request.partitions_def_name == AUDIO_FRAME_INDEXES_PARTITIONS_NAME
    assert request.partition_keys == ["ep-new-1", "ep-new-2"]
    assert not [r for r in again.run_requests if r.job_name == "audio_frame_indexes_job"]


def test_back_catalogue_is_registered_then_indexed_in_one_range_run(service, resource,
                                                                    seed_episode):
    for guid in ("back-1", "back:2", "back/3"):
        seed_episode(guid, minutes=1, kind="mp3-cbr")
    defs = dg.Definitions(assets=[audio_frame_indexes],
                          jobs=[register_episode_partitions_job, audio_frame_indexes_job],
                          resources={"clip_service": resource})
    with dg.instance_for_test() as instance:
        for _ in range(2):  # a second run adds nothing
            assert defs.resolve_job_def("register_episode_partitions_job").execute_in_process(
                instance=instance).success
        keys = instance.get_dynamic_partitions(AUDIO_FRAME_INDEXES_PARTITIONS_NAME)
        assert sorted(keys) == sorted(map(episode_partition_key, ("back-1", "back:2", "back/3")))
        # What a backfill with the multi-run policy launches: one run over a key range.
        run = defs.resolve_job_def("audio_frame_indexes_job").execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": keys[0],
                                     "dagster/asset_partition_range_end": keys[-1]})
        assert run.success
        assert {m.partition for m in run.asset_materializations_for_node(
            "audio_frame_indexes")} == set(keys)
    assert index_episode(service, "back/3")["reused"] is True
