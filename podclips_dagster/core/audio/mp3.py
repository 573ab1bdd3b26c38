"""MP3 layout: ID3v2 tags, MPEG audio frame headers, Xing/Info/VBRI and LAME tags.

Only what the ranged cutter needs: where the audio frames start, how long each
frame is, how many samples it holds, and the encoder's delay and padding (so
times line up with what FFmpeg shows when it decodes the whole file).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Layer III bitrates in kbps by bitrate index: MPEG-1, then MPEG-2/2.5.
_BITRATES_MPEG1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_BITRATES_MPEG2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)
# Sample rates by the header's version bits (3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5).
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
# Bits that never change inside one stream: sync, version, layer, sample rate.
STREAM_MASK = 0xFFFE0C00
# FFmpeg (like LAME's own decoder) adds 528 + 1 samples of decoder delay to the
# encoder delay from the LAME tag and drops that many samples at the start.
DECODER_DELAY = 529
CHAIN_FRAMES = 4  # consecutive valid headers needed to trust a sync word


@dataclass(frozen=True)
class FrameHeader:
    word: int             # the 32-bit header, for STREAM_MASK comparisons
    mpeg1: bool
    bitrate_kbps: int
    sample_rate: int
    padding: int
    channels: int
    length: int           # bytes, header included
    samples: int          # samples per channel in this frame

    @property
    def side_info_length(self) -> int:
        if self.mpeg1:
            return 17 if self.channels == 1 else 32
        return 9 if self.channels == 1 else 17


def id3v2_size(data: bytes) -> int:
    """Bytes taken by an ID3v2 tag at the start of `data` (0 if there is none)."""
    if len(data) < 10 or data[:3] != b"ID3" or data[3] == 0xFF or data[4] == 0xFF:
        return 0
    size_bytes = data[6:10]
    if any(b & 0x80 for b in size_bytes):
        return 0  # not syncsafe: not a tag
    size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def frame_length(word: int) -> tuple[int, int] | None:
    """(frame bytes, samples) for a Layer III header word, or None if invalid."""
    if (word >> 21) != 0x7FF:
        return None
    version, layer = (word >> 19) & 3, (word >> 17) & 3
    bitrate_index, rate_index = (word >> 12) & 0xF, (word >> 10) & 3
    if version == 1 or layer != 1 or rate_index == 3 or bitrate_index in (0, 15):
        return None  # reserved, not Layer III, or free format
    mpeg1 = version == 3
    kbps = (_BITRATES_MPEG1 if mpeg1 else _BITRATES_MPEG2)[bitrate_index]
    rate = _SAMPLE_RATES[version][rate_index]
    samples = 1152 if mpeg1 else 576
    return samples // 8 * kbps * 1000 // rate + ((word >> 9) & 1), samples


def parse_frame_header(data: bytes, pos: int) -> FrameHeader | None:
    """The Layer III frame header at data[pos], or None."""
    if pos < 0 or pos + 4 > len(data):
        return None
    word = struct.unpack_from(">I", data, pos)[0]
    sizes = frame_length(word)
    if sizes is None:
        return None
    version = (word >> 19) & 3
    mpeg1 = version == 3
    kbps = (_BITRATES_MPEG1 if mpeg1 else _BITRATES_MPEG2)[(word >> 12) & 0xF]
    return FrameHeader(
        word=word, mpeg1=mpeg1, bitrate_kbps=kbps,
        sample_rate=_SAMPLE_RATES[version][(word >> 10) & 3], padding=(word >> 9) & 1,
        channels=1 if (word >> 6) & 3 == 3 else 2, length=sizes[0], samples=sizes[1],
    )


def find_frame(data: bytes, start: int = 0, chain: int = CHAIN_FRAMES) -> int | None:
    """Offset of the first frame header at or after `start` that is followed by
    `chain - 1` more headers of the same stream (random bytes hold fake sync words).
    A chain may end early only at the end of `data`."""
    pos = data.find(b"\xff", start)
    while 0 <= pos <= len(data) - 4:
        first = parse_frame_header(data, pos)
        if first is not None and _chain_holds(data, pos, first.word, chain):
            return pos
        pos = data.find(b"\xff", pos + 1)
    return None


def _chain_holds(data: bytes, pos: int, word: int, chain: int) -> bool:
    for _ in range(chain - 1):
        sizes = frame_length(struct.unpack_from(">I", data, pos)[0])
        pos += sizes[0]
        if pos + 4 > len(data):
            return pos <= len(data)  # the frame fits: data ends on or inside the next header
        nxt = struct.unpack_from(">I", data, pos)[0]
        if (nxt & STREAM_MASK) != (word & STREAM_MASK) or frame_length(nxt) is None:
            return False
    return True


@dataclass(frozen=True)
class InfoTag:
    """Xing/Info/VBRI tag in the first frame, with the LAME extension if present."""

    name: str                   # "Xing" (VBR), "Info" (CBR) or "VBRI"
    frames: int | None          # audio frames, the tag's own frame excluded
    bytes: int | None           # stream bytes from the tag frame on
    encoder_delay: int | None   # from the LAME tag; None without one
    encoder_padding: int | None


def parse_info_tag(data: bytes, pos: int, header: FrameHeader) -> InfoTag | None:
    """The Xing/Info/VBRI tag inside the frame at data[pos], if it has one."""
    frame = data[pos:pos + header.length]
    at = 4 + header.side_info_length
    if frame[at:at + 4] in (b"Xing", b"Info") and len(frame) >= at + 8:
        flags = struct.unpack_from(">I", frame, at + 4)[0]
        cursor = at + 8
        fields = {}
        for bit, name, size in ((1, "frames", 4), (2, "bytes", 4), (4, "toc", 100), (8, "q", 4)):
            if flags & bit:
                if size == 4 and cursor + 4 <= len(frame):
                    fields[name] = struct.unpack_from(">I", frame, cursor)[0]
                cursor += size
        delay = padding = None
        # LAME tag: 9-byte encoder name, then 12 bytes before the 24-bit delay/padding.
        # FFmpeg's muxer writes "Lavc"/"Lavf" there and FFmpeg's demuxer reads it too.
        if frame[cursor:cursor + 4] in (b"LAME", b"Lavf", b"Lavc") and len(frame) >= cursor + 24:
            packed = int.from_bytes(frame[cursor + 21:cursor + 24], "big")
            delay, padding = packed >> 12, packed & 0xFFF
        return InfoTag(frame[at:at + 4].decode(), fields.get("frames"), fields.get("bytes"),
                       delay, padding)
    if frame[36:40] == b"VBRI" and len(frame) >= 54:
        size, frames = struct.unpack_from(">II", frame, 46)
        return InfoTag("VBRI", frames, size, None, None)
    return None


@dataclass(frozen=True)
class Mp3Layout:
    """Where an MP3's audio frames are and how their samples map to time."""

    audio_start: int        # offset of the first audio frame (after tags and the Info frame)
    sample_rate: int
    channels: int
    samples_per_frame: int
    bitrate_kbps: int       # of the first audio frame
    vbr: bool
    frames: int | None      # from the Info tag; None without one
    stream_end: int | None  # end of the audio per the Info tag
    start_skip: int         # decoded samples FFmpeg drops at the start (delay + 529)
    end_padding: int | None  # encoder padding from the LAME tag

    @property
    def mean_frame_bytes(self) -> float:
        """Average frame length at this bitrate: exact for the CBR byte math."""
        return self.samples_per_frame / 8 * self.bitrate_kbps * 1000 / self.sample_rate

    def content_samples(self, frames: int) -> int:
        """Samples FFmpeg outputs for `frames` audio frames (gapless trimming applied)."""
        decoded = frames * self.samples_per_frame
        if self.end_padding is not None:
            decoded = min(decoded, decoded - self.end_padding + DECODER_DELAY)
        return max(0, decoded - self.start_skip)


def parse_layout(data: bytes, first_frame: int, base: int = 0) -> Mp3Layout:
    """Layout from bytes holding the first frame at data[first_frame] and a few more;
    `base` is the object offset of data[0]."""
    header = parse_frame_header(data, first_frame)
    if header is None:
        raise ValueError("no frame header at the given offset")
    tag = parse_info_tag(data, first_frame, header)
    audio = first_frame + (header.length if tag else 0)
    first_audio = parse_frame_header(data, audio) or header
    if tag is None:
        vbr = _head_bitrates_differ(data, audio, header.word)
    else:
        vbr = tag.name != "Info"
    lame = tag is not None and tag.encoder_delay is not None
    return Mp3Layout(
        audio_start=base + audio, sample_rate=header.sample_rate, channels=header.channels,
        samples_per_frame=header.samples, bitrate_kbps=first_audio.bitrate_kbps, vbr=vbr,
        frames=tag.frames if tag else None,
        stream_end=base + first_frame + tag.bytes if tag and tag.bytes else None,
        start_skip=tag.encoder_delay + DECODER_DELAY if lame else 0,
        end_padding=tag.encoder_padding if lame else None,
    )


def _head_bitrates_differ(data: bytes, pos: int, word: int) -> bool:
    bitrates = set()
    while (header := parse_frame_header(data, pos)) and pos + header.length <= len(data):
        if (header.word & STREAM_MASK) != (word & STREAM_MASK):
            break
        bitrates.add(header.bitrate_kbps)
        pos += header.length
    return len(bitrates) > 1


def cbr_offsets_regular(data: bytes, layout: Mp3Layout, base: int = 0) -> bool:
    """True if the frames in `data` sit where CBR byte math puts them.

    LAME pads frames so that frame f starts within a byte of
    audio_start + f * mean_frame_bytes; an encoder that pads differently
    drifts, and then only a frame index is exact.
    """
    pos, frame, mean = layout.audio_start - base, 0, layout.mean_frame_bytes
    checked = 0
    while (header := parse_frame_header(data, pos)) and pos + header.length <= len(data):
        if header.bitrate_kbps != layout.bitrate_kbps:
            return False
        if abs(pos - (layout.audio_start - base) - frame * mean) > 1.5:
            return False
        pos, frame, checked = pos + header.length, frame + 1, checked + 1
    return checked >= 8


def walk_frames(data: bytes, pos: int, word: int) -> tuple[int, int]:
    """(complete frames, end offset) walking headers of one stream from data[pos]."""
    count, ref = 0, word & STREAM_MASK
    while pos + 4 <= len(data):
        nxt = struct.unpack_from(">I", data, pos)[0]
        sizes = frame_length(nxt)
        if sizes is None or (nxt & STREAM_MASK) != ref or pos + sizes[0] > len(data):
            break
        count, pos = count + 1, pos + sizes[0]
    return count, pos


@dataclass(frozen=True)
class Mp3FileInfo:
    duration_seconds: float  # as FFmpeg decodes it: gapless trimming applied
    sample_rate: int
    channels: int
    bitrate_kbps: int
    frames: int


def describe_mp3_file(path) -> Mp3FileInfo | None:
    """Duration and format of a local MP3 file (None if it holds no MP3 frames)."""
    with open(path, "rb") as f:
        data = f.read()
    start = id3v2_size(data)
    first = find_frame(data, start)
    if first is None:
        return None
    layout = parse_layout(data, first)
    frames = layout.frames
    if frames is None:
        frames, _ = walk_frames(data, layout.audio_start, parse_frame_header(data, first).word)
    return Mp3FileInfo(layout.content_samples(frames) / layout.sample_rate, layout.sample_rate,
                       layout.channels, layout.bitrate_kbps, frames)
