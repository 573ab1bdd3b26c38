"""Retries: a step is run again when a dependency was down, never when its input is bad."""

import contextlib
import socket
import socketserver
import threading
import time
from urllib.parse import urlsplit

import dagster as dg
import pytest

from podclips_dagster.core.audio.cutter import CUTTER_VERSION
from podclips_dagster.core.errors import DependencyUnavailable, EpisodeNotFound, SourceUnreadable
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips
from podclips_dagster.defs.clips.registration import register_clip_partitions
from podclips_dagster.defs.failures import TRANSIENT_RETRY_POLICY, partitions_failed
from podclips_dagster.defs.indexes.assets import audio_frame_indexes
from podclips_dagster.defs.media.assets import clip_share_assets, clip_videos
from podclips_dagster.defs.resources import ClipServiceResource


def test_a_step_with_a_transient_failure_may_be_retried_and_bad_input_may_not():
    bad = {"ep/1": EpisodeNotFound("no episode ep"), "ep/2": SourceUnreadable("not audio")}
    failure = partitions_failed(bad, 3, "clip(s)")
    assert not failure.allow_retries
    assert failure.description == "2 of 3 clip(s) failed: ep/1: no episode ep; ep/2: not audio"
    down = partitions_failed({**bad, "ep/3": DependencyUnavailable("MongoDB is down")}, 3)
    assert down.allow_retries


def test_the_clip_and_media_steps_retry_with_backoff():
    for asset in (audio_clips, clip_share_assets, clip_videos, audio_frame_indexes):
        policy = asset.op.retry_policy
        assert policy is TRANSIENT_RETRY_POLICY, asset.key
    assert TRANSIENT_RETRY_POLICY.backoff == dg.Backoff.EXPONENTIAL
    assert TRANSIENT_RETRY_POLICY.max_retries >= 2 and TRANSIENT_RETRY_POLICY.delay > 0


def test_a_run_failing_on_bad_input_is_not_retried(resource, seed_episode):
    seed_episode("ep-unreadable", audio=b"\x00not audio" * 1000)
    key = ClipSpec("ep-unreadable", 0).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
        assert not result.success
        kinds = [event.event_type for event in result.all_events]
        assert dg.DagsterEventType.STEP_FAILURE in kinds
        assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in kinds


def test_a_cut_clip_carries_the_cutters_code_version(resource, seed_episode):
    seed_episode("ep-versioned", minutes=2)
    key = ClipSpec("ep-versioned", 1).partition_key
    with dg.instance_for_test() as instance:
        register_clip_partitions(instance, [key])
        assert dg.materialize([audio_clips], instance=instance, partition_key=key,
                              resources={"clip_service": resource}).success
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=audio_clips.key, asset_partitions=[key]),
            limit=1).records
        tags = record.asset_materialization.tags or {}
        assert tags.get("dagster/code_version") == CUTTER_VERSION


@contextlib.contextmanager
def s3_gate(endpoint: str):
    """A TCP relay to the S3 server that drops every connection until `state["up"]`."""
    target = urlsplit(endpoint)
    state = {"up": False}

    def pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    class Relay(socketserver.BaseRequestHandler):
        def handle(self):
            if not state["up"]:
                return  # closed at once: the client's request fails to connect
            with socket.create_connection((target.hostname, target.port)) as upstream:
                back = threading.Thread(target=pipe, args=(upstream, self.request), daemon=True)
                back.start()
                pipe(self.request, upstream)
                back.join(30)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_step_that_lost_s3_is_retried_and_makes_the_clip_once_it_is_back(settings,
                                                                            seed_episode):
    seed_episode("ep-s3-blip", minutes=2)
    key = ClipSpec("ep-s3-blip", 2).partition_key
    with s3_gate(settings.s3_endpoint_url) as (endpoint, state), \
            dg.instance_for_test() as instance:
        resource = ClipServiceResource(
            mongodb_uri=settings.mongodb_uri, mongodb_db=settings.mongodb_db, storage="s3",
            s3_endpoint_url=endpoint, source_bucket=settings.source_bucket,
            clips_bucket=settings.clips_bucket)
        register_clip_partitions(instance, [key])

        def open_once_retrying():  # S3 comes back once the first attempt has failed
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not state["up"]:
                runs = instance.get_runs(limit=1)
                if runs and instance.all_logs(
                        runs[0].run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
                    state["up"] = True
                time.sleep(0.2)

        watcher = threading.Thread(target=open_once_retrying, daemon=True)
        watcher.start()
        result = dg.materialize([audio_clips], instance=instance, partition_key=key,
                                resources={"clip_service": resource}, raise_on_error=False)
        watcher.join(5)
        kinds = [event.event_type for event in result.all_events]
        assert dg.DagsterEventType.STEP_UP_FOR_RETRY in kinds
        assert result.success
        assert key in instance.get_materialized_partitions(audio_clips.key)
