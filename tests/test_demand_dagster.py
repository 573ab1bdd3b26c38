"""Demand in Dagster on real servers: scores, model, schedule, new-episode sensor, sidecar
pre-cuts."""

import json
import threading
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from podclips_dagster.core.demand.offline.planning import best_clips_not_cut, plan_precuts
from podclips_dagster.core.demand.offline.scoring import select_clips_to_precut
from podclips_dagster.core.demand.offline.store import load_scores, save_scores
from podclips_dagster.core.demand.online.budget import PrecutBudget, PrecutLedger
from podclips_dagster.core.demand.online.events import COLLECTION as EVENTS
from podclips_dagster.core.demand.online.precut import (
    claim_key,
    cut_claimed,
    queue_precut_after_play,
    queue_precuts,
)
from podclips_dagster.core.demand.online.sidecar_precut import SidecarPrecut
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.assets import audio_clips, episode_metadata, transcript_chunks
from podclips_dagster.defs.clips.jobs import audio_clips_job
from podclips_dagster.defs.demand.assets import clip_demand, clip_demand_events, demand_model
from podclips_dagster.defs.demand.schedules import (
    clip_demand_job,
    clip_demand_schedule,
    demand_model_job,
    demand_model_schedule,
    pregenerate_high_demand_clips,
)
from podclips_dagster.defs.demand.sensors import new_episode_sensor
from podclips_dagster.defs.requests.sensors import clip_request_watchdog
from podclips_dagster.devstack.demand_world import SyntheticConfig, generate_world
from podclips_dagster.devstack.demo import DEMO_EPISODES
from podclips_dagster.devstack.demo_demand import seed_demo_events
from tests.sensor_harness import keys_of, tick

UTC = UTC


def add_episode(service, guid, podcast, published_at, chunks):
    """Returns the episode's ObjectId, which some clients send as its id."""
    oid = service.catalogue.episodes.insert_one({"guid": guid, "podcast_name": podcast,
                                                 "published_at": published_at}).inserted_id
    if chunks:
        service.catalogue.chunks.insert_many([
            {"episode_id": guid, "chunk_index": i, "start_time": 30.0 * i, "embedding": [0.5] * 768}
            for i in range(chunks)])
    return oid


def impressions(service, episode, chunk, hours_ago, ranks, duration=30, now=None):
    now = now or datetime.now(UTC)
    service.db[EVENTS].insert_many([
        {"ts": now - timedelta(hours=hours_ago, seconds=i), "type": "impression",
         "episode_id": episode, "chunk_index": chunk, "rank": rank, "duration_seconds": duration,
         "source": "lookup"} for i, rank in enumerate(ranks)])


def demand_defs(resource) -> dg.Definitions:
    return dg.Definitions(
        assets=[episode_metadata, transcript_chunks, audio_clips, clip_demand_events, demand_model,
                clip_demand],
        jobs=[audio_clips_job, clip_demand_job, demand_model_job],
        schedules=[pregenerate_high_demand_clips, clip_demand_schedule, demand_model_schedule],
        sensors=[new_episode_sensor], resources={"clip_service": resource})


def schedule_tick(instance, resource, now) -> list[dg.RunRequest]:
    """The schedule's run requests at `now`, in a context closed afterwards (an open one
    keeps its instance as Dagster's current defs-state storage after the test)."""
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=now,
                                   resources={"clip_service": resource}) as context:
        result = pregenerate_high_demand_clips(context)
    return [] if isinstance(result, dg.SkipReason) else list(result)


def scores_frame(rows):
    """Stored-score rows: (episode, chunk, score[, share_60])."""
    return pd.DataFrame([{"episode_id": e, "chunk_index": c, "score": s, "share_15": 0.0,
                          "share_30": 1.0 - (r[0] if r else 0.0), "share_60": r[0] if r else 0.0,
                          "impressions": 1.0, "plays": 0.0, "best_rank": 1.0,
                          "episode_age_hours": 5.0} for e, c, s, *r in rows])


def test_clip_demand_materializes_hand_made_events_with_expected_top_clips(service, resource):
    now = datetime.now(UTC)
    add_episode(service, "ep-a", "alpha", now - timedelta(days=10), 10)
    b_object_id = add_episode(service, "ep/b", "beta", now - timedelta(days=2), 6)
    impressions(service, "ep-a", 4, 1, [1, 1, 1, 1, 1])  # shown at the top, just now
    impressions(service, "ep/b", 2, 1, [2, 2], duration=60)  # people want a minute of it
    impressions(service, str(b_object_id), 2, 1, [2], duration=60)  # an old client's id for ep/b
    impressions(service, "ep-a", 7, 30, [5])  # once, low and long ago
    impressions(service, "not-in-catalogue", 1, 1, [1, 1])  # nothing to cut: ignored
    service.db[EVENTS].insert_one({"ts": now - timedelta(hours=3), "type": "play",
                                   "episode_id": "ep-a", "chunk_index": 1, "source": "sidecar"})

    with dg.instance_for_test() as instance:
        result = dg.materialize([clip_demand], instance=instance,
                                resources={"clip_service": resource})
    assert result.success
    stored, _ = load_scores(service.db)
    top = list(zip(stored["episode_id"], stored["chunk_index"], strict=False))
    # Decayed, rank-weighted impressions first, then the played chunk and the one after it
    # (people keep listening); the new episode's unseen opening chunks score 0 and are not kept.
    assert top == [("ep-a", 4), ("ep/b", 2), ("ep-a", 1), ("ep-a", 2), ("ep-a", 7)]
    assert stored["share_60"].iloc[1] == pytest.approx(1.0)
    assert stored["impressions"].iloc[1] == 3  # the ObjectId's impression counted for ep/b

    meta = result.asset_materializations_for_node("clip_demand")[0].metadata
    assert meta["dagster/row_count"].value == len(stored) == 5
    assert [c.name for c in meta["dagster/column_schema"].schema.columns][:3] == [
        "episode_id", "chunk_index", "score"]
    first = meta["top_clips"].records[0].data
    assert (first["episode_id"], first["chunk_index"]) == ("ep-a", 4)
    assert meta["scorer"].value == "decay" and "model_version" not in meta  # nothing trained yet
    assert meta["candidates"].value == 7 and "| 7 |" in meta["score_distribution"].md_str


def test_demand_model_trains_on_a_small_log_and_clip_demand_uses_it(service, resource):
    world = generate_world(SyntheticConfig(seed=5, n_podcasts=8, back_catalogue_days=20,
                                           n_queries=400, searches_per_day=250, warmup_days=1,
                                           days=4))
    shift = pd.Timestamp.now(tz="UTC").floor("h") - world.log["ts"].iloc[-1].ceil("h")
    cat = world.catalogue
    service.catalogue.episodes.insert_many([
        {"guid": e, "podcast_name": p, "published_at": (t + shift).to_pydatetime()}
        for e, p, t in zip(cat["episode_id"], cat["podcast"], cat["published_at"], strict=False)])
    service.catalogue.chunks.insert_many([{"episode_id": e, "chunk_index": i}
                                          for e, n in zip(cat["episode_id"], cat["chunks"],
                                                          strict=False)
                                          for i in range(n)])
    log = world.log.assign(ts=world.log["ts"] + shift)
    service.db[EVENTS].insert_many([
        {"ts": t.to_pydatetime(), "type": k, "episode_id": e, "chunk_index": int(c),
         "rank": None if pd.isna(r) else int(r), "duration_seconds": int(d)}
        for t, k, e, c, r, d in log[["ts", "type", "episode_id", "chunk_index", "rank",
                                     "duration"]].itertuples(index=False)])

    with dg.instance_for_test() as instance:
        trained = dg.materialize([demand_model], instance=instance,
                                 resources={"clip_service": resource})
        scored = dg.materialize([clip_demand], instance=instance,
                                resources={"clip_service": resource})
    model_meta = trained.asset_materializations_for_node("demand_model")[0].metadata
    assert model_meta["holdout_auc"].value > 0.6 and model_meta["trained_rows"].value > 1000
    meta = scored.asset_materializations_for_node("clip_demand")[0].metadata
    assert meta["scorer"].value == "model" and meta["model_in_use"].value
    assert meta["model_version"].value == model_meta["model_version"].value
    assert meta["model_lift_top_5pct"].value == pytest.approx(
        model_meta["holdout_lift_top_5pct"].value)
    stored, _ = load_scores(service.db)
    # Chunks under the model's threshold are left to the sidecar pre-cut: not stored.
    assert len(stored) and (stored["score"] > 0.1).all()


def test_schedule_respects_budget_skips_clips_that_exist_and_registers_what_it_launches(
        service, resource, monkeypatch):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ranked = [(f"ep-{e}", c, 10.0 - e - c / 10) for e in range(3) for c in range(6)]
    wanted_long = [("ep-0", 9, 20.0, 0.5)]  # half its demand asks for 60 s: both variants
    save_scores(service.db, scores_frame(wanted_long + ranked), pd.DataFrame(), now)
    # Two of the best clips exist; one more is on its way through an on-demand request.
    for episode, chunk in (("ep-0", 0), ("ep-0", 2)):
        service.db["audio_clips"].insert_one({"episode_id": episode, "chunk_index": chunk,
                                              "duration_seconds": 30, "status": "ready"})
    service.db["clip_requests"].insert_one({"episode_id": "ep-0", "chunk_index": 1,
                                            "duration_seconds": 30, "status": "queued"})
    monkeypatch.setenv("PRECUT_MAX_CLIPS_PER_RUN", "8")

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("audio_clips", ["ep-1/0"])  # registered earlier
        runs = schedule_tick(instance, resource, now)
        registered = instance.get_dynamic_partitions("audio_clips")
        covered = [key for run in runs for key in keys_of(instance, run)]
        again = schedule_tick(instance, resource, now)
        assert instance.get_dynamic_partitions("audio_clips") == registered
        again_covered = sorted(k for run in again for k in keys_of(instance, run))

    expected = ["ep-0/3", "ep-0/4", "ep-0/5", "ep-0/9", "ep-0/9/60s", "ep-1/0", "ep-1/1", "ep-1/2"]
    assert sorted(covered) == expected  # best first, minus what exists or is requested: 8 of them
    assert sorted(registered) == expected  # partitions registered == partitions launched
    assert len(runs) == 2  # the key registered earlier runs alone; the new ones in one range
    for run in runs:
        assert run.tags["podclips/source"] == "precut" and run.tags["dagster/priority"] == "-1"
    # A re-evaluated tick gets the same clips and spends nothing more.
    assert again_covered == expected
    assert PrecutLedger(service.db, PrecutBudget()).today(now)["schedule"] == 8


def test_schedule_paces_the_daily_budget_and_leaves_the_sidecar_precut_its_share(service):
    day = datetime(2025, 3, 3, tzinfo=UTC)
    # 2 an hour, 1 of them kept for the sidecar pre-cut
    budget = PrecutBudget(per_day=48, per_run=100)
    ranked = scores_frame([("ep", c, 100.0 - c) for c in range(40)])
    granted = []
    for hour in (0, 1, 5):
        now = day + timedelta(hours=hour, minutes=1)
        save_scores(service.db, ranked, pd.DataFrame(), now)
        plan = plan_precuts(service.db, now, budget, tick_key=f"schedule:{now}")
        granted.append(len(plan.clips))
        service.db["audio_clips"].insert_many([
            {"episode_id": c.episode_id, "chunk_index": c.chunk_index, "duration_seconds": 30}
            for c in plan.clips])
    # By hour h: (h + 1) / 24 of the day less the sidecar pre-cut's half hour: 1, 2 (3), 12 - 1 - 3.
    assert granted == [1, 2, 8]
    stale = plan_precuts(service.db, day + timedelta(hours=9), budget, "schedule:late")
    assert stale.clips == [] and "old" in stale.reason
    capped = PrecutBudget(per_day=1000, max_usd_per_day=0.01, usd_per_clip=0.0001)
    assert capped.clips_per_day == 100  # the cost cap binds first


def test_the_schedule_looks_up_existing_clips_in_batches_without_changing_its_choice(service):
    ranked = scores_frame([(f"ep-{e:02d}", c, (e * 7 + c * 13) % 50 + 1.0, 0.3 * (c % 2))
                           for e in range(60) for c in range(5)]).sort_values(
        "score", ascending=False, kind="stable")
    made = [{"episode_id": f"ep-{e:02d}", "chunk_index": c, "duration_seconds": 30}
            for e in range(0, 60, 3) for c in range(5)]
    service.db["audio_clips"].insert_many(made)
    existing = {(d["episode_id"], d["chunk_index"], 30) for d in made}
    for spare in (5, 40, 400):
        chosen, _ = best_clips_not_cut(service.db, ranked, spare)
        assert chosen == select_clips_to_precut(ranked, existing, spare)


def test_sidecar_precut_queues_top_results_within_its_budget(service):
    now = datetime(2025, 3, 3, 0, 10, tzinfo=UTC)
    shown = [ClipSpec("ep-1", c) for c in range(10)]
    tight = PrecutBudget(per_day=48)  # 2.3 clips paced by 00:10: only the top results qualify
    queued = queue_precuts(service, shown, available={shown[0]}, now=now, budget=tight)
    assert [(d["episode_id"], d["chunk_index"]) for d in queued] == [("ep-1", 1)]  # rank 1 exists
    assert queued[0]["source"] == "precut" and queued[0]["status"] == "pending"
    again = queue_precuts(service, shown, available=set(), now=now, budget=tight)
    assert [d["chunk_index"] for d in again] == [0]  # rank 2 is queued already
    assert queue_precuts(service, [ClipSpec("ep-2", 0)], set(), now, tight) == []  # spent

    # Concurrent lookups never overspend: the day's count is a compare-and-set.
    # 23 by 00:10, any rank <= 10
    roomy, eager = PrecutBudget(per_day=480), SidecarPrecut(spare_hours=0)
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(queue_precuts(
        service, [ClipSpec(f"busy-{n}", c) for c in range(10)], set(), now, roomy, eager)))
        for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue_precuts(service, [ClipSpec("late", c) for c in range(10)], set(), now, roomy, eager)
    assert service.db["clip_requests"].count_documents({"source": "precut"}) == 23
    assert PrecutLedger(service.db, roomy).today(now)["sidecar"] == 23


def test_claimed_precuts_are_cut_at_once_and_what_fails_goes_back_to_dagster(
        service, resource, seed_episode):
    seed_episode("ep-now", minutes=2)
    now = datetime.now(UTC)
    shown = [ClipSpec("ep-now", 1), ClipSpec("ep-now", 400)]  # the second is past the end
    claim = claim_key()
    queued = queue_precuts(service, shown, set(), now, PrecutBudget(per_day=4800), claimed_by=claim)
    assert [(d["status"], d["run_key"]) for d in queued] == [("queued", claim)] * 2
    assert cut_claimed(service, [d["_id"] for d in queued]) == {"cut": 1, "failed": 1}
    requests = {d["chunk_index"]: d for d in service.db["clip_requests"].find()}
    assert requests[1]["status"] == "done" and requests[1]["s3_url"].endswith("/1.mp3")
    assert service.records.find(ClipSpec("ep-now", 1))["requested_by"] == "precut"
    assert requests[400]["status"] == "pending"  # a sensor run retries it and shows why
    assert requests[400]["error_code"] == "precut_failed" and "400" in requests[400]["error"]

    # A claim never settled (the process died mid-cut) goes back to Dagster after a minute.
    lost = queue_precuts(service, [ClipSpec("ep-now", 2)], set(), now,
                         PrecutBudget(per_day=4800), claimed_by=claim_key())
    service.db["clip_requests"].update_one({"_id": lost[0]["_id"]}, {"$set": {
        "queued_at": now - timedelta(minutes=2)}})
    with dg.instance_for_test() as instance:
        tick(clip_request_watchdog, instance, resource)
    back = service.db["clip_requests"].find_one({"_id": lost[0]["_id"]})
    assert back["status"] == "pending" and "no run was launched" in back["error"]


def test_a_play_queues_the_next_chunk_only_with_spare_budget_and_if_it_exists(service):
    add_episode(service, "ep-p", "p", datetime(2025, 1, 1, tzinfo=UTC), 3)
    now = datetime(2025, 3, 3, 3, 0, tzinfo=UTC)
    budget = PrecutBudget(per_day=24)  # 1 an hour: 4 paced by 03:00, i.e. 4 h unspent
    assert queue_precut_after_play(service, ClipSpec("ep-p", 2), now, budget) == []  # last chunk
    assert queue_precut_after_play(service, ClipSpec("ep-p", 0), now, budget)[0]["chunk_index"] == 1
    PrecutLedger(service.db, budget).reserve(["x", "y"], "schedule", now)  # 1 h left: not spare
    assert queue_precut_after_play(service, ClipSpec("ep-p", 1), now, budget) == []


def test_new_episode_sensor_precuts_opening_clips_of_new_episodes(service, resource, monkeypatch):
    now = datetime.now(UTC)
    add_episode(service, "old-alpha", "alpha", now - timedelta(days=30), 8)
    add_episode(service, "new-alpha", "alpha", now - timedelta(minutes=10), 8)
    add_episode(service, "new-obscure", "obscure", now - timedelta(minutes=5), 8)
    add_episode(service, "no-chunks-yet", "alpha", now - timedelta(minutes=3), 0)
    popularity = pd.DataFrame({"podcast_impressions_decayed": [40.0],
                               "podcast_plays_decayed": [9.0]}, index=["alpha"])
    save_scores(service.db, scores_frame([("old-alpha", 3, 1.0)]), popularity, now)
    monkeypatch.setenv("PRECUT_MAX_CLIPS_PER_RUN", "4")

    with dg.instance_for_test() as instance:
        first = tick(new_episode_sensor, instance, resource)
        cursor = json.loads(first.cursor)
        indexed, keys = (r.partition_keys for r in first.dynamic_partitions_requests)
        assert tick(new_episode_sensor, instance, resource, first.cursor).run_requests == []
        add_episode(service, "no-chunks-yet", "alpha", now, 0)
        service.catalogue.chunks.insert_one({"episode_id": "no-chunks-yet", "chunk_index": 0})
        third = tick(new_episode_sensor, instance, resource, first.cursor)

    # The popular podcast's opening clips first, within the per-run cap of 4.
    assert keys == ["new-alpha/0", "new-alpha/1", "new-alpha/2", "new-obscure/0"]
    # Their audio is indexed first, in a run of its own requested before the pre-cuts.
    assert indexed == ["new-alpha", "new-obscure"]
    assert [r.job_name for r in first.run_requests] == ["audio_frame_indexes_job",
                                                        "audio_clips_job"]
    assert first.run_requests[1].tags["podclips/source"] == "precut"
    assert list(cursor["waiting"]) == ["no-chunks-yet"]
    assert [r.partition_keys for r in third.dynamic_partitions_requests] == [
        ["no-chunks-yet"], ["no-chunks-yet/0"]]
    assert json.loads(third.cursor)["waiting"] == {}


def test_a_scheduled_run_cuts_its_clip_and_records_it_as_a_precut(service, resource, seed_episode):
    seed_episode("ep-real", minutes=1)
    now = datetime.now(UTC)
    save_scores(service.db, scores_frame([("ep-real", 1, 5.0)]), pd.DataFrame(), now)
    with dg.instance_for_test() as instance:
        # As the daemon evaluates it: a single-clip run names its partition, resolved here.
        (run,) = schedule_tick(instance, resource, now)
        outcome = demand_defs(resource).resolve_job_def("audio_clips_job").execute_in_process(
            instance=instance, partition_key=run.partition_key,
            tags={**run.tags, "dagster/run_key": run.run_key})
    assert run.partition_key == "ep-real/1" and outcome.success
    record = service.db["audio_clips"].find_one({"episode_id": "ep-real", "chunk_index": 1})
    assert record["requested_by"] == "precut"


def test_demo_events_train_a_model_and_give_clip_demand_something_to_score(service, resource):
    now = datetime.now(UTC)
    for n, demo in enumerate(DEMO_EPISODES):  # the demo catalogue, without its audio
        add_episode(service, demo.guid, demo.podcast_name, now - timedelta(days=n), 8 + n)
    seeded = seed_demo_events(service, now=now)
    seed_demo_events(service, now=now)  # a restart replaces them rather than piling up
    assert seeded["plays"] > 20
    assert service.db[EVENTS].count_documents({}) == seeded["plays"] + seeded["impressions"]
    with dg.instance_for_test() as instance:
        for asset in (demand_model, clip_demand):
            assert dg.materialize([asset], instance=instance,
                                  resources={"clip_service": resource}).success
    stored, _ = load_scores(service.db)
    assert len(stored) >= 5 and set(stored["episode_id"]) <= {d.guid for d in DEMO_EPISODES}
