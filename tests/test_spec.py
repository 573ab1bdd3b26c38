import pytest

from podclips_dagster.core.errors import InvalidClipRequest, InvalidDuration, InvalidPartitionKey
from podclips_dagster.core.spec import ClipSpec

ODD_IDS = [
    "0d6f4c3e-5b1a-4f0e-9c57-3a2d1e8b7f01", "substack:post:1234", "flightcast:abc-def",
    "feed/with/slashes", "ends/12s", "dots...here", "a,b|c[d]e%f", "ünïcødé", "..", ".hidden",
    "space here", "123",
]
RESERVED = ["...", ",", "|", "[", "]", "\n", "\t", "\x00"]


@pytest.mark.parametrize("episode_id", ODD_IDS)
@pytest.mark.parametrize("duration", [15, 30, 60])
def test_partition_key_round_trips_and_avoids_dagster_reserved(episode_id, duration):
    spec = ClipSpec(episode_id, 7, duration)
    key = spec.partition_key
    assert ClipSpec.from_partition_key(key) == spec
    assert not any(r in key for r in RESERVED)
    assert key.startswith(episode_id.split("/")[0][:3]) or "%" in key
    assert "/7" in key


def test_partition_key_is_readable_for_common_ids():
    assert ClipSpec("substack:post:1234", 12).partition_key == "substack:post:1234/12"
    assert ClipSpec("abc", 3, 60).partition_key == "abc/3/60s"


@pytest.mark.parametrize("episode_id", ODD_IDS)
def test_object_keys_are_distinct_single_segments(episode_id):
    key = ClipSpec(episode_id, 4).object_key
    prefix, safe_id, name = key.split("/")
    assert prefix == "audio_clips" and name == "4.mp3"
    assert safe_id not in (".", "..")
    assert ClipSpec(episode_id, 4, 15).object_key.endswith("/4_15s.mp3")


def test_object_keys_do_not_collide():
    keys = {ClipSpec(e, 1).object_key for e in ODD_IDS}
    assert len(keys) == len(ODD_IDS)


@pytest.mark.parametrize("bad", ["", "noslash", "ep/notanumber", "ep/-1", "/3x", "ep/%ZZ/1"])
def test_malformed_partition_keys_are_rejected(bad):
    with pytest.raises(InvalidClipRequest):
        ClipSpec.from_partition_key(bad)


def test_validation_messages_name_the_problem():
    with pytest.raises(InvalidDuration, match="45"):
        ClipSpec("ep", 1, 45)
    with pytest.raises(InvalidClipRequest, match="chunk_index"):
        ClipSpec("ep", -1)
    with pytest.raises(InvalidClipRequest, match="control"):
        ClipSpec("ep\x07", 1)
    with pytest.raises(InvalidClipRequest, match="limit"):
        ClipSpec("e" * 300, 1)
    with pytest.raises(InvalidPartitionKey):
        ClipSpec.from_partition_key("a,b")
