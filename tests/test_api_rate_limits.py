"""The MongoDB rate limiter on its own: exact under concurrency, sliding, and shared."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from podclips_dagster.core.rate_limits import RateLimiter


def test_exactly_the_limit_gets_in_under_concurrency(mongo_db):
    limiter = RateLimiter(mongo_db["api_rate_limits"])
    with ThreadPoolExecutor(24) as pool:
        verdicts = list(pool.map(lambda _: limiter.hit("ip:203.0.113.1", 10, 60), range(40)))
    assert sum(v.allowed for v in verdicts) == 10
    refused = [v for v in verdicts if not v.allowed]
    assert all(v.remaining == 0 and 1 <= v.retry_after <= 60 for v in refused)


def test_the_window_slides(mongo_db):
    limiter = RateLimiter(mongo_db["api_rate_limits"])
    assert [limiter.hit("key:a", 2, 1).allowed for _ in range(3)] == [True, True, False]
    time.sleep(1.05)
    first = limiter.hit("key:a", 2, 1)
    assert first.allowed and first.remaining == 1  # the two old requests left the window


def test_subjects_and_instances_share_one_store(mongo_db):
    one, two = RateLimiter(mongo_db["api_rate_limits"]), RateLimiter(mongo_db["api_rate_limits"])
    assert one.hit("ip:1", 1, 60).allowed and not two.hit("ip:1", 1, 60).allowed
    assert two.hit("ip:2", 1, 60).allowed  # another subject has its own budget


def test_zero_means_unlimited(mongo_db):
    limiter = RateLimiter(mongo_db["api_rate_limits"])
    assert all(limiter.hit("ip:1", 0, 60).allowed for _ in range(20))
    assert mongo_db["api_rate_limits"].count_documents({}) == 0
