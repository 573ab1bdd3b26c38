"""Audiogram video of a clip: animated waveform, title and burned-in captions, in one FFmpeg pass.

Filters: `showwaves` draws the waveform per frame, `overlay` puts it on a
flat background, `drawtext` writes the podcast name and the wrapped title
(one filter per line, each centred: `text_align` is too new for older
FFmpeg builds), and `subtitles` (libass) burns in the clip's WebVTT. Every
file FFmpeg reads sits in the work directory under a fixed name, so no path
needs filter-graph escaping. H.264 `veryfast` + AAC in MP4 with the index
up front (`+faststart`) so players start before the download ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from podclips_dagster.core.audio.ffmpeg import (
    FILE_PROTOCOLS,
    error_summary,
    input_args,
    run_ffmpeg,
)
from podclips_dagster.core.errors import CutFailed, DependencyUnavailable, InvalidClipRequest

# Bump when a change to rendering changes the videos: the `clip_videos` code version.
AUDIOGRAM_VERSION = "1"
VIDEO_SIZES = ("1080x1080", "1920x1080")
DEFAULT_VIDEO_SIZE = "1080x1080"
FPS = 25
BACKGROUND = "0x0f172a"
WAVE_COLOR = "0x38bdf8"
MUTED_TEXT = "0x94a3b8"
_FONT_FILE = "font.ttf"
# DejaVu Sans Bold: Debian/Ubuntu (fonts-dejavu-core), Fedora, Alpine, Arch.
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)


@dataclass(frozen=True)
class Font:
    path: Path
    family: str


def parse_video_size(size: str) -> tuple[int, int]:
    if size not in VIDEO_SIZES:
        raise InvalidClipRequest(f"video size {size!r} is not offered; choose one of "
                                 f"{', '.join(VIDEO_SIZES)}")
    width, height = size.split("x")
    return int(width), int(height)


@lru_cache(maxsize=4)
def find_font(font_file: str | None = None) -> Font:
    """A bold sans TrueType font: `font_file` when given (PODCLIPS_FONT_FILE, DejaVu Sans
    Bold: the Lambda layer's, where there is no fontconfig), else DejaVu Sans Bold where
    the OS has it, else fontconfig's."""
    if font_file:
        if not os.path.isfile(font_file):
            raise DependencyUnavailable(f"no font at {font_file} (PODCLIPS_FONT_FILE)")
        return Font(Path(font_file), "DejaVu Sans")
    for candidate in _FONT_CANDIDATES:
        if os.path.isfile(candidate):
            return Font(Path(candidate), "DejaVu Sans")
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}\n%{family[0]}", "sans:bold"],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
        if len(found) == 2 and found[0].lower().endswith((".ttf", ".otf")):
            return Font(Path(found[0]), found[1])
    raise DependencyUnavailable("no TrueType font for video titles and captions: install "
                                "fonts-dejavu-core (apt-get) or any font fontconfig can find")


@dataclass(frozen=True)
class Layout:
    width: int
    height: int

    @property
    def margin(self) -> int:
        return round(self.width * 0.06)

    @property
    def title_size(self) -> int:
        return round(self.height * 0.052)

    def title_lines(self, title: str) -> list[str]:
        # DejaVu Sans Bold averages ~0.63 em per character.
        per_line = max(10, int((self.width - 2 * self.margin) / (self.title_size * 0.63)))
        return textwrap.wrap(title, per_line, max_lines=2, placeholder="…") or [""]

    @property
    def wave_size(self) -> tuple[int, int]:
        return self.width - 2 * self.margin, round(self.height * 0.3)


def _drawtext(textfile: str, size: int, color: str, y: int) -> str:
    return (f"drawtext=fontfile={_FONT_FILE}:textfile={textfile}:expansion=none:"
            f"fontsize={size}:fontcolor={color}:x=(w-text_w)/2:y={y}")


def audiogram_filter(layout: Layout, title_files: list[str], subtitle_file: str | None,
                     captions_file: str | None, font: Font) -> str:
    wave_w, wave_h = layout.wave_size
    # Drawn at half size and scaled up: the moving waveform is what the encoder pays for, and
    # half the detail measured 2.5x smaller files and ~15% less CPU for the same picture.
    parts = [
        f"[0:a]aformat=channel_layouts=mono,showwaves=s={wave_w // 2}x{wave_h // 2}:"
        f"mode=cline:draw=full:scale=sqrt:rate={FPS}:colors={WAVE_COLOR},"
        f"scale={wave_w // 2 * 2}:{wave_h // 2 * 2}[wave]",
        "[1:v][wave]overlay=(W-w)/2:(H-h)/2:shortest=1",
    ]
    y = round(layout.height * 0.08)
    if subtitle_file:
        small = round(layout.title_size * 0.62)
        parts.append(_drawtext(subtitle_file, small, MUTED_TEXT, y))
        y += round(small * 1.8)
    for name in title_files:
        parts.append(_drawtext(name, layout.title_size, "white", y))
        y += round(layout.title_size * 1.25)
    if captions_file:
        # libass styles in its 384x288 script space: 16 -> ~60 px and a ~100 px bottom margin
        # on a 1080-high frame.
        parts.append(f"subtitles=filename={captions_file}:fontsdir=.:force_style="
                     f"'FontName={font.family},Bold=1,FontSize=16,Alignment=2,MarginV=26,"
                     f"MarginL=24,MarginR=24,Outline=0,Shadow=0'")
    return parts[0] + ";" + ",".join(parts[1:]) + "[v]"


def render_audiogram(audio: Path, out: Path, *, size: str, title: str, podcast: str | None,
                     captions_vtt: str | None, ffmpeg: str, workdir: Path,
                     font_file: str | None = None, timeout: float = 300.0) -> None:
    """Write an MP4 (H.264 + AAC) audiogram of `audio` to `out`."""
    layout = Layout(*parse_video_size(size))
    font = find_font(font_file)
    link = workdir / _FONT_FILE
    if not link.exists():
        try:
            link.symlink_to(font.path)
        except OSError:  # file systems without symlinks
            shutil.copyfile(font.path, link)
    title_files = []
    for n, line in enumerate(layout.title_lines(title)):
        (workdir / f"title{n}.txt").write_text(line, encoding="utf-8")
        title_files.append(f"title{n}.txt")
    subtitle_file = None
    if podcast:
        (workdir / "podcast.txt").write_text(podcast, encoding="utf-8")
        subtitle_file = "podcast.txt"
    captions_file = None
    if captions_vtt and "-->" in captions_vtt:
        (workdir / "captions.vtt").write_text(captions_vtt, encoding="utf-8")
        captions_file = "captions.vtt"
    graph = audiogram_filter(layout, title_files, subtitle_file, captions_file, font)
    args = ["-y", "-v", "error", *input_args(str(audio.resolve()), FILE_PROTOCOLS),
            "-f", "lavfi", "-i", f"color=c={BACKGROUND}:s={size}:r={FPS}",
            "-filter_complex", graph, "-map", "[v]", "-map", "0:a:0",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-shortest",
            str(out.resolve())]
    # FFmpeg resolves the fixed file names in the filter graph against its working directory
    # (a subprocess cwd, never os.chdir: renders run in threads).
    proc = run_ffmpeg(ffmpeg, args, timeout=timeout, cwd=workdir)
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise CutFailed(f"FFmpeg could not render the {size} audiogram: "
                        f"{error_summary(proc.stderr)}")
