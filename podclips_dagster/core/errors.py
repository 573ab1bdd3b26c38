"""Errors the core raises; each door translates the type, never the message.

`kind` groups them for the doors: "bad_input" (HTTP 4xx, CLI exit 2),
"not_found" (HTTP 404, CLI exit 2), "source" (the episode's audio is
missing or unreadable: HTTP 502), "unavailable" (a dependency is down: 503).
"""

from __future__ import annotations


class PodclipsError(Exception):
    kind = "internal"
    code = "internal_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidClipRequest(PodclipsError):
    kind = "bad_input"
    code = "invalid_request"


class InvalidDuration(InvalidClipRequest):
    code = "invalid_duration"


class InvalidPartitionKey(InvalidClipRequest):
    code = "invalid_partition_key"


class EpisodeNotFound(PodclipsError):
    kind = "not_found"
    code = "episode_not_found"


class ChunkOutOfRange(PodclipsError):
    kind = "not_found"
    code = "chunk_out_of_range"


class SourceMissing(PodclipsError):
    """The episode has no audio object where the catalogue says it should."""

    kind = "source"
    code = "source_missing"


class SourceUnreadable(PodclipsError):
    """The audio object exists but is empty, truncated or not audio."""

    kind = "source"
    code = "source_unreadable"


class CutFailed(PodclipsError):
    """FFmpeg failed on audio that looked readable."""

    kind = "source"
    code = "cut_failed"


class DependencyUnavailable(PodclipsError):
    """MongoDB or object storage could not be reached."""

    kind = "unavailable"
    code = "dependency_unavailable"


class MissingConfiguration(PodclipsError):
    """A setting the library needs is not set (e.g. MONGODB_URI outside the CLI)."""

    kind = "unavailable"
    code = "not_configured"


class StoragePermissionDenied(PodclipsError):
    """Object storage answered 403: an IAM or bucket policy, not an outage, and not a miss."""

    kind = "permission"
    code = "storage_permission_denied"

    def __init__(self, bucket: str, key: str, action: str):
        super().__init__(f"permission denied on s3://{bucket}/{key} ({action})")
        self.bucket, self.key, self.action = bucket, key, action


class VideoUnsupported(PodclipsError):
    """This FFmpeg (or the system) lacks what audiograms need: an encoder, a filter, a font."""

    kind = "unsupported"
    code = "video_unsupported"
