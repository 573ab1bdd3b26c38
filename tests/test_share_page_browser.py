"""The share page in a real browser: Debian's Chromium, driven by Playwright.

It loads without console errors, plays (muted), the highlighted transcript
line follows `currentTime`, the playhead moves, and with JavaScript off it
is still an audio player with the text. A screenshot lands in
test-artifacts/. Skipped only when Chromium is not installed
(scripts/ensure_chromium.sh installs it).
"""

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.media_fixtures import EPISODE_TITLE

# One seeded world for every media test module (imported fixtures would be one per module).
pytest_plugins = ["tests.media_fixtures"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: run scripts/ensure_chromium.sh (as root it installs "
    "Debian's chromium and chromium-driver)")

ACTIVE = """() => {
  const a = document.getElementById('player'), cue = document.querySelector('.cue.active');
  const word = cue && cue.querySelector('.w.now');
  return {t: a.currentTime, paused: a.paused,
          start: cue ? parseFloat(cue.dataset.start) : null,
          end: cue ? parseFloat(cue.dataset.end) : null,
          index: cue ? [...document.querySelectorAll('.cue')].indexOf(cue) : -1,
          word: word ? word.textContent : null,
          head: parseFloat(document.getElementById('playhead').style.left)};
}"""


@pytest.fixture(scope="module")
def browser():
    # Playwright launches Chromium with a fresh temporary --user-data-dir of its own.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def seek(page, t: float) -> dict:
    page.evaluate("""t => new Promise(done => {
      const a = document.getElementById('player');
      a.pause();
      a.addEventListener('seeked', () => done(), {once: true});
      a.currentTime = t;
    })""", t)
    return page.evaluate(ACTIVE)


def test_share_page_plays_and_follows_the_transcript(browser, media_api):
    page = browser.new_page(viewport={"width": 900, "height": 1000})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # ERR_ABORTED is the media element cancelling its own range requests while it buffers.
    page.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}")
            if "ERR_ABORTED" not in (r.failure or "") else None)

    page.goto(media_api.page_url(), wait_until="load")
    assert EPISODE_TITLE in page.title()
    assert page.locator("#copy").is_visible()  # the script ran
    assert page.evaluate("document.querySelector('.wave img').naturalWidth") == 1600
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15_000)
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(30, abs=0.2)

    # Plays (muted autoplay is allowed) and the highlight keeps up with the audio.
    assert page.evaluate("""() => { const a = document.getElementById('player');
                                    a.muted = true; return a.play().then(() => true); }""")
    page.wait_for_function("document.getElementById('player').currentTime > 1.0",
                           timeout=15_000)
    now = page.evaluate(ACTIVE)
    assert not now["paused"] and now["index"] >= 0
    assert now["start"] <= now["t"] + 0.3 and now["t"] < now["end"] + 0.3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "share_page.png"), full_page=True)

    later = seek(page, 20.0)  # in the second passage (16-30 s of the clip)
    assert later["start"] <= 20.0 < later["end"] and later["index"] > now["index"]
    assert later["word"] and later["head"] == pytest.approx(20 / 30 * 100, abs=1)
    assert seek(page, 12.0)["index"] == -1  # no words at 8-16 s: nothing highlighted
    early = seek(page, 0.5)
    assert early["index"] == 0 and early["head"] < 3

    # A click on a line seeks there.
    page.locator(".cue").nth(later["index"]).click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - "
                           f"{later['start']}) < 0.1")
    page.close()
    assert problems == []


def test_share_page_works_without_javascript(browser, media_api):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    response = page.goto(media_api.page_url(), wait_until="load")
    assert response.status == 200
    audio = page.locator("audio#player")
    assert audio.get_attribute("controls") is not None and ".mp3" in audio.get_attribute("src")
    assert page.locator(".cue").first.is_visible()
    assert "Here is the first thing." in page.locator("#cues").inner_text()
    assert page.locator("#copy").is_hidden() and page.locator("#link").is_visible()
    assert page.locator("#playhead").is_hidden()
    context.close()
