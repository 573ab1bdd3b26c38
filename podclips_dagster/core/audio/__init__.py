"""Clip cutting: MP3 layout, frame indexes, ranged windows, FFmpeg."""
