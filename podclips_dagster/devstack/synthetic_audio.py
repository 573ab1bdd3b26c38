"""Tone-coded synthetic episodes: every 10 s segment is its own sine tone.

A test decodes a clip, finds the tones with an FFT and so knows exactly which
part of the episode the clip holds. Segment i's frequency comes from a
permutation that puts neighbouring segments >= 1.1 kHz apart and keeps all
1080 segments of a 3 h episode distinct (4 Hz apart, 220-4536 Hz).

The samples come from numpy and are piped to FFmpeg for encoding: FFmpeg's
`aevalsrc` evaluates its expression per sample and took 2 s for 5 minutes;
this way a 5 min CBR episode takes ~1 s and LAME encoding is the only cost.
"""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from podclips_dagster.core.audio.ffmpeg import (
    PIPE_PROTOCOLS,
    error_summary,
    ffmpeg_environment,
    find_ffmpeg,
    input_args,
)

SEGMENT_SECONDS = 10.0
SEGMENTS = 1080            # distinct tones: 3 h of audio
_BASE_HZ, _STEP_HZ, _STRIDE = 220.0, 4.0, 389  # 389 is coprime with 1080: a permutation
AMPLITUDE = 0.5
KINDS = ("mp3-cbr", "mp3-vbr", "m4a")

_ENCODERS = {
    # compression_level 9 = LAME's fastest algorithm: test media, 2x faster to make.
    "mp3-cbr": ["-c:a", "libmp3lame", "-b:a", "128k", "-compression_level", "9",
                "-id3v2_version", "0", "-f", "mp3"],
    "mp3-vbr": ["-c:a", "libmp3lame", "-q:a", "4", "-compression_level", "9",
                "-id3v2_version", "0", "-f", "mp3"],
    # The mp4 muxer writes `moov` after the media unless told `-movflags +faststart`.
    "m4a": ["-c:a", "aac", "-b:a", "96k", "-f", "mp4"],
}


def segment_frequency(index: int) -> float:
    """The tone (Hz) of 10 s segment `index` (distinct for the first 1080 segments)."""
    return _BASE_HZ + _STEP_HZ * ((index * _STRIDE) % SEGMENTS)


def segment_at(time_s: float) -> int:
    return int(time_s // SEGMENT_SECONDS)


def make_episode(path: Path | str, duration_s: float, kind: str, sample_rate: int = 44100,
                 channels: int = 2, cover_kb: int = 0, ffmpeg: str | None = None,
                 faststart: bool = False) -> Path:
    """Write a tone-coded episode: "mp3-cbr" (128k), "mp3-vbr" (LAME V4) or "m4a"
    (AAC, moov at the end, or first with `faststart`). MP3s get an ID3v2 tag;
    cover_kb > 0 puts an APIC picture of that size in it (a big tag at the
    start, as real feeds have)."""
    if kind not in _ENCODERS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if cover_kb and kind == "m4a":
        raise ValueError("cover art is only written into MP3 sources")
    if faststart and kind != "m4a":
        raise ValueError("faststart (moov before the media) only applies to m4a")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".encoding-", suffix=".tmp")
    os.close(fd)
    try:
        options = [*_ENCODERS[kind], *(["-movflags", "+faststart"] if faststart else [])]
        _encode(Path(tmp), duration_s, options, sample_rate, channels, ffmpeg or find_ffmpeg())
        if kind.startswith("mp3"):
            _prepend_id3(Path(tmp), path, f"Synthetic {kind} {duration_s:.0f}s", cover_kb)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _encode(out: Path, duration_s: float, options: list[str], rate: int, channels: int,
            ffmpeg: str) -> None:
    command = [ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error",
               "-ar", str(rate), "-ac", str(channels),
               *input_args("pipe:0", PIPE_PROTOCOLS, "s16le"),
               *options, "-y", str(out)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ffmpeg_environment())
    try:
        for pcm in _pcm_segments(duration_s, rate, channels):
            proc.stdin.write(pcm)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # FFmpeg died: its stderr says why
    stderr = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError(f"FFmpeg could not encode {options[1]}: {error_summary(stderr)}")


def _pcm_segments(duration_s: float, rate: int, channels: int):
    """Interleaved s16le PCM, one 10 s segment at a time."""
    total = round(duration_s * rate)
    per_segment = round(SEGMENT_SECONDS * rate)
    for first in range(0, total, per_segment):
        t = np.arange(first, min(first + per_segment, total), dtype=np.float64) / rate
        freq = segment_frequency(first // per_segment)
        wave = (AMPLITUDE * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
        yield (np.repeat(wave, channels) if channels > 1 else wave).tobytes()


def _prepend_id3(mp3: Path, out: Path, title: str, cover_kb: int) -> None:
    frames = _id3_frame(b"TIT2", b"\x00" + title.encode("latin-1"))
    if cover_kb:
        frames += _id3_frame(b"APIC", b"\x00image/jpeg\x00\x03\x00" + _fake_jpeg(cover_kb * 1024))
    with open(out, "wb") as dst, open(mp3, "rb") as src:
        dst.write(b"ID3\x03\x00\x00" + _syncsafe(len(frames)) + frames)
        while block := src.read(1 << 20):
            dst.write(block)


def _id3_frame(frame_id: bytes, body: bytes) -> bytes:
    return frame_id + len(body).to_bytes(4, "big") + b"\x00\x00" + body  # ID3v2.3 size: plain


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _fake_jpeg(size: int) -> bytes:
    """JPEG markers around random bytes: full of 0xFF sync-like words, like real covers."""
    body = random.Random(size).randbytes(max(0, size - 22))
    jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return jfif + body + b"\xff\xd9"


_OPENERS = ["So", "Honestly,", "Right, and", "I think", "What we found is that", "Look,",
            "The thing is,", "And then", "Interestingly,", "If you think about it,"]
_SUBJECTS = ["the founders", "our guest", "the market", "most teams", "the data", "investors",
             "the product", "early customers", "the board", "engineers"]
_VERBS = ["underestimated", "kept coming back to", "completely changed", "figured out",
          "doubled down on", "were surprised by", "spent a year on", "quietly rebuilt"]
_OBJECTS = ["the pricing model", "distribution", "retention in the first month",
            "hiring the first ten people", "the go-to-market motion", "unit economics",
            "the onboarding flow", "a pivot nobody expected", "the fundraising timeline",
            "how AI changes the workflow"]
_CLOSERS = ["and that made all the difference.", "which nobody talks about.",
            "and it paid off.", "before anyone else did.", "in a really interesting way.",
            "and honestly it was painful.", "which is the part I find fascinating."]


def make_transcript_chunks(duration_s: float, seed: int = 0, min_chunk_s: float = 20.0,
                           max_chunk_s: float = 40.0) -> list[dict]:
    """Transcript chunks covering the episode: chunk_index, start_time, end_time, text."""
    rng = random.Random(seed)
    chunks, start = [], 0.0
    while start < duration_s - 1.0:
        end = min(duration_s, start + rng.uniform(min_chunk_s, max_chunk_s))
        sentences = [
            f"{rng.choice(_OPENERS)} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} "
            f"{rng.choice(_OBJECTS)} {rng.choice(_CLOSERS)}"
            for _ in range(max(1, round((end - start) / 10)))
        ]
        chunks.append({"chunk_index": len(chunks), "start_time": round(start, 2),
                       "end_time": round(end, 2), "text": " ".join(sentences)})
        start = end
    return chunks
