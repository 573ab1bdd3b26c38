"""The check that proves each clip: the object exists, fits its window, matches its record.

The asset logs this check's result for every partition it makes (a check step
only sees one partition, while our runs carry many), from what the cut just
measured: the MP3 header of the file it uploaded whole, and the record written
after it. Re-reading the object per partition cost a HEAD and a GET against
the store for nothing new. The standalone check re-reads the stored object: run
it from the UI to re-verify a clip, e.g. after a lifecycle rule moved it.
"""


import dagster as dg

from podclips_dagster.core.clip_audit import audit_clip, audit_made_clip
from podclips_dagster.core.service import ClipResult
from podclips_dagster.core.spec import ClipSpec
from podclips_dagster.defs.clips.partitions import audio_clips_partitions
from podclips_dagster.defs.resources import ClipServiceResource

CHECK_NAME = "clip_object_matches_record"


def made_clip_check_evaluation(asset_key: dg.AssetKey, clip: ClipResult):
    problems = audit_made_clip(clip)
    return dg.AssetCheckEvaluation(
        asset_key=asset_key, check_name=CHECK_NAME, passed=not problems,
        partition=clip.partition_key, description="; ".join(problems) or None,
        metadata={"problems": len(problems), "verified": "at the cut"},
    )


# partitions_def on a check is a preview API in Dagster 1.13; it stays because the check is
# about one clip, and an unpartitioned check could only re-verify every clip at once.
@dg.asset_check(asset="audio_clips", name=CHECK_NAME, partitions_def=audio_clips_partitions,
                description="The clip's object exists, its MP3 duration fits the requested "
                "window, and its size and duration match the MongoDB record.")
def clip_object_matches_record(context: dg.AssetCheckExecutionContext,
                               clip_service: ClipServiceResource) -> dg.AssetCheckResult:
    problems = audit_clip(clip_service.get_service(),
                          ClipSpec.from_partition_key(context.partition_key))
    return dg.AssetCheckResult(passed=not problems, description="; ".join(problems) or None,
                               metadata={"problems": len(problems),
                                         "verified": "re-read from storage"})
