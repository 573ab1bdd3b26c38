"""The share page of a clip (`GET /clips/{episode_id}/{chunk_index}`).

The page is one HTML response with its CSS and JS inlined (no build step,
one round trip): an <audio> element, the waveform picture with a playhead,
the transcript with the current cue and word highlighted, a copy-link
button, and Open Graph / Twitter player tags so links unfurl. With
JavaScript off it is still a working player with the text. A clip that does
not exist yet is cut on the first view (rate limited per IP, like the API,
and capped per day for everyone: `SHARE_CUTS_PER_DAY`); its share assets are
made then too if Dagster has not made them yet.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from string import Template
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from podclips_dagster.core.errors import PodclipsError
from podclips_dagster.core.media.audiogram import VIDEO_SIZES
from podclips_dagster.core.media.share_assets import ShareAssets, ensure_share_assets, is_current
from podclips_dagster.core.media.transcript import PROPORTIONAL, ClipTranscript
from podclips_dagster.core.media.videos import VIDEOS_FIELD
from podclips_dagster.core.media.waveform import PNG_SIZE
from podclips_dagster.core.spec import DEFAULT_DURATION
from podclips_dagster.sidecar.budget import Pending, clip_within_budget
from podclips_dagster.sidecar.errors import STATUS_BY_KIND
from podclips_dagster.sidecar.links import public_base_url
from podclips_dagster.sidecar.security import client_ip
from podclips_dagster.sidecar.state import sidecar

router = APIRouter(tags=["share"])
_STATIC = Path(__file__).parent / "static"
PAGE_CACHE_SECONDS = 300  # the page holds presigned URLs (24 h) when there is no CDN
SHARE_CUTS_SUBJECT = "share_cuts"  # the daily cap's document prefix in `daily_caps`


@lru_cache(maxsize=1)
def _page_parts() -> tuple[Template, str, str]:
    """The page template and the CSS and JS it inlines (read once per process)."""
    html_text, css, js = ((_STATIC / name).read_text(encoding="utf-8")
                          for name in ("share.html", "share.css", "share.js"))
    return Template(html_text), css, js


@router.get("/clips/{episode_id:path}/{chunk_index}", response_class=HTMLResponse,
            summary="Share page of a clip: player, waveform, synced transcript")
async def share_page(request: Request, episode_id: str, chunk_index: int,
                     duration: int = Query(DEFAULT_DURATION, description="15, 30 or 60."),
                     embed: bool = Query(False, description="Compact layout for players "
                                         "embedded by Twitter/X cards.")) -> HTMLResponse:
    try:
        return await _share_page(request, episode_id, chunk_index, duration, embed)
    except PodclipsError as err:
        status = STATUS_BY_KIND.get(err.kind, 500)
        message = err.message if status < 500 else "The clip cannot be made right now."
        return _message_page(status, "This clip is not available", message)


async def _share_page(request: Request, episode_id: str, chunk_index: int, duration: int,
                      embed: bool) -> HTMLResponse:
    app = sidecar(request)
    service = app.service
    resolved = await anyio.to_thread.run_sync(service.resolve, episode_id, chunk_index, duration)
    if await anyio.to_thread.run_sync(service.find_clip, resolved.spec) is None:
        # Only views that cut count against the limits; views of existing clips are free.
        refused = await anyio.to_thread.run_sync(_refuse_new_cut, app, client_ip(request))
        if refused is not None:
            return refused
    outcome = await clip_within_budget(request, lambda: resolved)
    if isinstance(outcome, Pending):
        return _message_page(202, "This clip is being prepared",
                             "The page reloads by itself in a few seconds.",
                             refresh=outcome.retry_after)
    assets = await anyio.to_thread.run_sync(ensure_share_assets, service, outcome.spec)
    page = render_share_page(service, assets, resolved.episode,
                             _page_url(request, outcome.spec), embed)
    return HTMLResponse(page, headers={"Cache-Control": f"public, max-age={PAGE_CACHE_SECONDS}"})


def _refuse_new_cut(app, ip: str) -> HTMLResponse | None:
    """The page to answer instead of cutting, past the per-IP limit or the global daily cap
    (`SHARE_CUTS_PER_DAY`, shared by every instance); None when the cut may go ahead."""
    verdict = app.limiter.hit(f"share:{ip}", app.settings.rate_limit_per_ip_per_minute, 60)
    if not verdict.allowed:
        return _message_page(429, "Too many new clips", "Try again in a minute.",
                             headers={"Retry-After": str(verdict.retry_after)})
    today = app.daily_caps.take(SHARE_CUTS_SUBJECT, app.settings.share_cuts_per_day)
    if not today.allowed:
        return _message_page(
            429, "New clips are paused for today",
            f"This clip has not been made yet, and share pages have made today's limit of "
            f"{today.cap} new clips. Clips that exist still play; this one can be made "
            "tomorrow (UTC), or sooner if someone asks for it in the app.",
            headers={"Retry-After": str(today.seconds_to_reset)})
    return None


def _page_url(request: Request, spec) -> str:
    """The canonical link: the episode's guid, escaped so any id survives (`?`, `#`, `%`)."""
    url = f"{public_base_url(request)}/clips/{quote(spec.episode_id, safe=':@')}/" \
        f"{spec.chunk_index}"
    return url if spec.duration_seconds == DEFAULT_DURATION else \
        f"{url}?duration={spec.duration_seconds}"


def render_share_page(service, assets: ShareAssets, episode, page_url: str, embed: bool) -> str:
    template, css, js = _page_parts()
    record, transcript = assets.record, assets.transcript
    bucket = service.clips_bucket
    title = episode.title or episode.guid
    podcast = episode.podcast_name or ""
    length = record["clip_duration_seconds"]
    description = transcript.excerpt() or f"A {length:.0f} s clip of {title}"
    values = {
        "page_title": f"{title} · {podcast}" if podcast else title,
        "description": description, "podcast": podcast, "episode_title": title,
        "page_url": page_url,
        "embed_url": page_url + ("&" if "?" in page_url else "?") + "embed=1",
        "audio_url": bucket.url(assets.spec.object_key),
        "waveform_png_url": bucket.url(assets.key("waveform_png")),
        "waveform_json_url": bucket.url(assets.key("waveform_json")),
        "vtt_url": bucket.url(assets.key("transcript_vtt")),
        "png_width": PNG_SIZE[0], "png_height": PNG_SIZE[1],
        "duration": f"{length:.3f}",
        "clip_at": _clock(record["start_time"]), "clip_length": f"{length:.0f} s",
    }
    safe = {k: html.escape(str(v), quote=True) for k, v in values.items()}
    safe.update(
        css=css, js=js, body_class="embed" if embed else "",
        cues=_cues_html(transcript), video_meta=_video_meta(service, record),
        timing_note='<p class="note">Word timing is approximate: the transcript is timed per '
        'passage, spread across its words.</p>\n' if transcript.timing == PROPORTIONAL else "",
    )
    return template.substitute(safe)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else \
        f"{minutes}:{secs:02d}"


def _cues_html(transcript: ClipTranscript) -> str:
    if not transcript.cues:
        return '<li class="cue-empty">No transcript for this part of the episode.</li>'
    return "\n".join(
        f'<li class="cue" data-start="{cue.start:.3f}" data-end="{cue.end:.3f}">'
        + " ".join(f'<span class="w" data-s="{w.start:.3f}" data-e="{w.end:.3f}">'
                   f"{html.escape(w.text)}</span>" for w in cue.words)
        + "</li>"
        for cue in transcript.cues)


def _video_meta(service, record: dict) -> str:
    """og:video tags for an audiogram that exists (landscape first: it unfurls widest)."""
    for size in sorted(VIDEO_SIZES, reverse=True):
        video = record.get(VIDEOS_FIELD, {}).get(size)
        if is_current(video, record):
            url = html.escape(service.clips_bucket.url(video["key"]), quote=True)
            width, height = size.split("x")
            return (f'<meta property="og:video" content="{url}">\n'
                    f'<meta property="og:video:type" content="video/mp4">\n'
                    f'<meta property="og:video:width" content="{width}">\n'
                    f'<meta property="og:video:height" content="{height}">\n')
    return ""


def _message_page(status: int, heading: str, message: str, refresh: int | None = None,
                  headers: dict | None = None) -> HTMLResponse:
    _, css, _ = _page_parts()
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{html.escape(heading)}</title>'
            f"<style>{css}</style></head><body><main><h1>{html.escape(heading)}</h1>"
            f"<p>{html.escape(message)}</p></main></body></html>")
    return HTMLResponse(body, status_code=status, headers=headers)
