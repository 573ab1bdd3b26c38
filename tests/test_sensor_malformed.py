"""One malformed record never stops a sensor: it is rejected with the reason, the rest served.

Requests and clip records are written by anyone (another service, a person by hand); each
test puts malformed records among good ones and ticks the sensor on a real instance.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from bson import ObjectId

from podclips_dagster.core.requests import ClipRequests, request_clip
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.reporting.sensors import outside_clips_sensor
from podclips_dagster.defs.requests.sensors import clip_request_sensor, clip_request_watchdog
from tests.sensor_harness import tick


def _request(status: str, **fields) -> dict:
    now = datetime.now(UTC)
    return {"_id": ObjectId(), "status": status, "requested_at": now, "updated_at": now,
            "attempts": 0, "source": "by-hand", **fields}


def _rejections(store: ClipRequests, ids) -> dict:
    return {doc["_id"]: (doc["status"], doc.get("error_code"), doc.get("error"))
            for doc in store.collection.find({"_id": {"$in": list(ids)}})}


def test_malformed_pending_requests_are_rejected_and_the_tick_goes_on(service, resource,
                                                                      seed_episode):
    seed_episode("ep-good", minutes=1)
    store = ClipRequests(service.db)
    good = request_clip(service, "ep-good", 1, 30, source="test")
    bad = {
        "bad_key": _request("pending", episode_id="ep-good", chunk_index=0,
                            duration_seconds=30, partition_key="no-chunk-here"),
        "object_key": _request("pending", episode_id="ep-good", chunk_index=0,
                               duration_seconds=30, partition_key={"episode": "ep-good"}),
        "object_episode": _request("pending", episode_id={"guid": "ep-good"}, chunk_index=0),
        "string_chunk": _request("pending", episode_id="ep-good", chunk_index="zero"),
        "no_requested_at": {k: v for k, v in _request(
            "pending", episode_id="ep-good", chunk_index=0).items() if k != "requested_at"},
    }
    store.collection.insert_many(list(bad.values()))
    with dg.instance_for_test() as instance:
        result = tick(clip_request_sensor, instance, resource)
    (run,) = result.run_requests
    assert run.partition_key == good["partition_key"]
    assert store.get(str(good["_id"]))["status"] == "queued"
    outcomes = _rejections(store, [doc["_id"] for doc in bad.values()])
    assert {status for status, _, _ in outcomes.values()} == {"rejected"}
    assert outcomes[bad["bad_key"]["_id"]][1] == "invalid_partition_key"
    assert outcomes[bad["object_key"]["_id"]][1] == "malformed_record"
    assert "partition_key is a dict" in outcomes[bad["object_key"]["_id"]][2]
    assert "episode_id" in outcomes[bad["object_episode"]["_id"]][2]
    assert "chunk_index" in outcomes[bad["string_chunk"]["_id"]][2]
    assert "requested_at" in outcomes[bad["no_requested_at"]["_id"]][2]


def test_the_watchdog_rejects_malformed_queued_requests_and_closes_the_rest(service, resource):
    store = ClipRequests(service.db)
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    good = _request("queued", episode_id="ep-w", chunk_index=0, duration_seconds=30,
                    partition_key=ClipSpec("ep-w", 0).partition_key, run_key="lost-run",
                    queued_at=long_ago, attempts=1)
    object_run_key = _request("queued", partition_key="ep-w/1", run_key={"run": 1},
                              queued_at=long_ago, attempts=1)
    bad_key = _request("queued", partition_key="ep-w/x/y", run_key="lost-run",
                       queued_at=long_ago, attempts=1)
    store.collection.insert_many([good, object_run_key, bad_key])
    with dg.instance_for_test() as instance:
        tick(clip_request_watchdog, instance, resource)
    outcomes = _rejections(store, [object_run_key["_id"], bad_key["_id"]])
    assert outcomes[object_run_key["_id"]][:2] == ("rejected", "malformed_record")
    assert outcomes[bad_key["_id"]][:2] == ("rejected", "invalid_partition_key")
    requeued = store.get(str(good["_id"]))  # no run exists for it: back to pending
    assert (requeued["status"], requeued["error_code"]) == ("pending", "run_lost")


def test_outside_clips_sensor_rejects_malformed_records_and_reports_the_rest(service, resource,
                                                                             seed_episode):
    seed_episode("ep-out", minutes=1)
    made = service.ensure_clip("ep-out", 1, requested_by="cli")
    collection = service.records.collection
    old = made.generated_at - timedelta(minutes=5)  # past the sensor's reporting lag
    collection.update_one({"episode_id": "ep-out"}, {"$set": {
        "generated_at": old,
        # A video entry missing its object: the video is rejected, the clip still reported.
        "videos.1080x1080": {"generated_at": old, "clip_generated_at": old}}})
    clip_fields = {k: v for k, v in collection.find_one({"episode_id": "ep-out"}).items()
                   if k not in ("_id", "videos", "chunk_index")}
    object_url = {**clip_fields, "chunk_index": 2, "s3_url": {"bucket": "x"}}
    text_revived = {**clip_fields, "chunk_index": 3, "revived_at": "yesterday"}
    no_size = {k: v for k, v in {**clip_fields, "chunk_index": 4}.items()
               if k != "file_size_bytes"}
    collection.insert_many([object_url, text_revived, no_size])
    with dg.instance_for_test() as instance:
        result = tick(outside_clips_sensor, instance, resource)
    (event,) = result.asset_events
    assert event.partition == made.partition_key
    for record in (object_url, text_revived, no_size):
        stored = collection.find_one({"_id": record["_id"]})
        assert (stored["status"], stored["error_code"]) == ("rejected", "malformed_record")
    assert "s3_url" in collection.find_one({"_id": object_url["_id"]})["error"]
    good = collection.find_one({"episode_id": "ep-out", "chunk_index": 1})
    assert "1080x1080" not in good.get("videos", {})
    assert good["rejected_videos"]["1080x1080"]["error_code"] == "malformed_record"
    assert good["status"] == "ready"
