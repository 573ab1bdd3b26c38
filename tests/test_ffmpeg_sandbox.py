"""FFmpeg runs without credentials, opens only the protocols its input needs, and stops when
its cut is cancelled or names the signal that killed it."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from podclips_dagster.core.audio.ffmpeg import (
    FILE_PROTOCOLS,
    PIPE_PROTOCOLS,
    find_ffmpeg,
    input_args,
    run_ffmpeg,
)
from podclips_dagster.core.cancellation import Cancellation, Cancelled, cancellable
from podclips_dagster.core.errors import CutFailed
from tests.process_tree import alive, children, environment

SECRETS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-key",
           "AWS_SESSION_TOKEN": "session-token", "MONGODB_URI": "mongodb://u:p@db.example"}
# A real-time source (`-re`): FFmpeg runs for ~`seconds` whatever the machine's speed.
def _slow_args(seconds: float) -> list[str]:
    return ["-v", "error", "-re", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-f", "null", "-"]


def _in_thread(fn):
    outcome = {}

    def run():
        try:
            outcome["result"] = fn()
        except Exception as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _running_ffmpeg(timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid, name in children(os.getpid()).items() if "ffmpeg" in name]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError("FFmpeg never started")


@pytest.fixture(scope="module")
def ffmpeg():
    return find_ffmpeg()


@pytest.fixture(scope="module")
def mp3_file(ffmpeg, tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "tone.mp3"
    made = run_ffmpeg(ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "sine=duration=1",
                               "-c:a", "libmp3lame", "-y", str(path)])
    assert made.returncode == 0, made.stderr
    return path


def test_ffmpeg_sees_no_credentials(ffmpeg, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    thread, outcome = _in_thread(lambda: run_ffmpeg(ffmpeg, _slow_args(1.5)))
    try:
        env = environment(_running_ffmpeg())
    finally:
        thread.join()
    assert outcome["result"].returncode == 0
    assert not set(SECRETS) & set(env)
    assert not [k for k in env if k.startswith("AWS_")]
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"


def test_only_the_whitelisted_protocols_are_opened(ffmpeg, mp3_file):
    decode = ["-f", "null", "-"]
    assert run_ffmpeg(ffmpeg, [*input_args(str(mp3_file), FILE_PROTOCOLS, "mp3"),
                               *decode]).returncode == 0
    piped = run_ffmpeg(ffmpeg, [*input_args("pipe:0", PIPE_PROTOCOLS, "mp3"), *decode],
                       stdin=mp3_file.read_bytes())
    assert piped.returncode == 0
    # A piped cut may not open files, nor a local cut the network.
    refused = run_ffmpeg(ffmpeg, [*input_args(f"file:{mp3_file}", PIPE_PROTOCOLS, "mp3"),
                                  *decode])
    assert refused.returncode != 0 and b"not on whitelist" in refused.stderr
    remote = run_ffmpeg(ffmpeg, [*input_args("http://127.0.0.1:9/x.mp3", FILE_PROTOCOLS, "mp3"),
                                 *decode])
    assert remote.returncode != 0 and b"not on whitelist" in remote.stderr


def test_a_cancelled_cut_kills_ffmpeg(ffmpeg):
    cancellation = Cancellation()

    def run():
        with cancellable(cancellation):
            return run_ffmpeg(ffmpeg, _slow_args(20))

    started = time.monotonic()
    thread, outcome = _in_thread(run)
    pid = _running_ffmpeg()
    cancellation.cancel("the request's budget ran out")
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 10
    assert isinstance(outcome["error"], Cancelled)
    assert "budget ran out" in str(outcome["error"])
    assert not alive(pid)


def test_ffmpeg_killed_by_a_signal_is_named(ffmpeg):
    thread, outcome = _in_thread(lambda: run_ffmpeg(ffmpeg, _slow_args(20)))
    os.kill(_running_ffmpeg(), signal.SIGKILL)
    thread.join(10)
    assert isinstance(outcome["error"], CutFailed)
    assert "SIGKILL" in str(outcome["error"])
