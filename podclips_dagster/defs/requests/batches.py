"""Which runs to launch for a set of wanted clips: few runs, one key range each.

A run over several partitions of a dynamic partitions definition is a key
*range* (start and end tags), resolved in registration order. So a run may
only hold keys that sit next to each other in that order:
- keys registered now are added in the order we choose, episode after
  episode, so each batch of them is one contiguous range;
- keys registered earlier (by the seed, the schedule, an earlier request)
  share a run only where their positions are consecutive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import dagster as dg

from podclips_dagster.core.spec import ClipSpec

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class Batch:
    requests: dict[str, list[dict]]  # partition key -> pending requests, in registration order
    run_key: str = field(default="")

    def __post_init__(self):
        self.run_key = self.run_key or _run_key(self.requests)

    @property
    def keys(self) -> list[str]:
        return list(self.requests)

    @property
    def request_ids(self) -> list:
        return [doc["_id"] for docs in self.requests.values() for doc in docs]

    def only(self, keys: set[str]) -> Batch:
        return Batch({k: d for k, d in self.requests.items() if k in keys}, self.run_key)

    def run_request(self) -> dg.RunRequest:
        keys = self.keys
        tags = {"podclips/requests": str(len(self.request_ids))}
        if len(keys) == 1:
            return dg.RunRequest(run_key=self.run_key, partition_key=keys[0], tags=tags)
        return dg.RunRequest(run_key=self.run_key,
                             tags={**tags, RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]})


def _run_key(requests: dict[str, list[dict]]) -> str:
    """From the request ids and the attempt each is on: a re-evaluated tick yields the
    same key (Dagster launches one run per key), a retried request a new one."""
    parts = sorted(f"{doc['_id']}@{doc.get('attempts', 0) + 1}"
                   for docs in requests.values() for doc in docs)
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]
    return f"clip-requests-{len(parts)}-{digest}"


def _split(keys: list[str], breaks_before) -> list[list[str]]:
    groups: list[list[str]] = []
    for key in keys:
        if not groups or breaks_before(groups[-1], key):
            groups.append([])
        groups[-1].append(key)
    return groups


def plan_batches(wanted: dict[str, list[dict]], registered: list[str],
                 max_keys: int) -> tuple[list[Batch], list[str]]:
    """(batches, keys to register in this order) for `wanted`: partition key -> requests."""
    position = {key: i for i, key in enumerate(registered)}
    old = sorted((k for k in wanted if k in position), key=position.__getitem__)
    old_groups = _split(old, lambda group, key: len(group) >= max_keys
                        or position[key] != position[group[-1]] + 1)

    episodes: dict[str, list[str]] = {}
    for key in wanted:
        if key not in position:
            episodes.setdefault(ClipSpec.from_partition_key(key).episode_id, []).append(key)
    new_groups: list[list[str]] = []
    for keys in episodes.values():  # whole episodes per run where they fit
        if new_groups and len(new_groups[-1]) + len(keys) <= max_keys:
            new_groups[-1].extend(keys)
        else:
            new_groups.extend(keys[i:i + max_keys] for i in range(0, len(keys), max_keys))

    batches = [Batch({k: wanted[k] for k in group}) for group in old_groups + new_groups]
    return batches, [key for group in new_groups for key in group]
