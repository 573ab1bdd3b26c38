"""How a step over many partitions fails: retried when a dependency was down, never for bad input.

A step that names an unknown episode, a missing source or audio FFmpeg cannot
cut fails once (`allow_retries=False`): running it again gives the same answer.
A `DependencyUnavailable` (MongoDB or S3 unreachable) may pass, so the step
fails with retries allowed and `TRANSIENT_RETRY_POLICY` runs it again; the
partitions already made are reused, not remade.
"""

import dagster as dg

from podclips_dagster.core.errors import DependencyUnavailable, PodclipsError

# A replica-set election or S3 throttling passes within seconds to a minute: 3 retries
# after 5, 15 and 35 s (each +-5 s, so a fleet of failed runs does not retry in step).
TRANSIENT_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL,
                                        jitter=dg.Jitter.PLUS_MINUS)


def is_transient(err: PodclipsError) -> bool:
    return isinstance(err, DependencyUnavailable)


def will_retry(context: dg.AssetExecutionContext, err: PodclipsError) -> bool:
    """Whether the step, failing for `err` now, is run again by its retry policy."""
    return is_transient(err) and context.retry_number < TRANSIENT_RETRY_POLICY.max_retries


def partitions_failed(failures: dict[str, PodclipsError], total: int,
                      noun: str = "partition(s)") -> dg.Failure:
    """The step's failure naming each failed partition; retryable if any failed transiently."""
    return dg.Failure(
        description=f"{len(failures)} of {total} {noun} failed: "
        + "; ".join(f"{key}: {err.message}" for key, err in failures.items()),
        allow_retries=any(is_transient(err) for err in failures.values()),
    )
