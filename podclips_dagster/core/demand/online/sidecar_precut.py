"""The sidecar pre-cut: pre-cut what the lookup route just showed.

No pandas here: the sidecar (and its Lambda package) imports it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.spec import ClipSpec


@dataclass(frozen=True)
class SidecarPrecut:
    """The lookup route queues a low-priority cut of the top results it shows.

    Results at rank <= `max_rank` are queued whenever the budget has a clip
    to spare; results down to `spare_max_rank`, and the chunk after one just
    played (people keep listening), only while more than `spare_hours` of
    budget is unspent (quiet hours, or a budget larger than demand), so a
    generous budget is used and a tight one goes to the top results. The sidecar
    calls `clips_to_queue` with the results it returns and the budget it has
    left, in hours of budget.
    """

    max_rank: int = 2
    spare_max_rank: int = 10
    spare_hours: float = 2.0
    budget_share: float = 0.5  # of each hour's budget, kept back from the hourly run
    next_chunk_on_play: bool = True  # with spare budget, a play queues the chunk after it

    def wants_next_chunk(self, spare_hours: float) -> bool:
        return self.next_chunk_on_play and spare_hours > self.spare_hours

    def wants(self, rank: float, spare_hours: float) -> bool:
        if rank <= 0:
            return False
        return rank <= self.max_rank or (rank <= self.spare_max_rank
                                         and spare_hours > self.spare_hours)

    def clips_to_queue(self, items: Iterable[dict], existing, spare_hours: float = 0.0,
                       duration_seconds: int = 30) -> list[ClipSpec]:
        out = []
        for rank, item in enumerate(items, start=1):
            try:
                key = ClipSpec(item["episode_id"], int(item["chunk_index"]),
                               int(item.get("duration_seconds", duration_seconds)))
            except PodclipsError:  # a malformed result is the search API's problem, not a clip
                continue
            if self.wants(rank, spare_hours) and key not in existing:
                out.append(key)
        return out
