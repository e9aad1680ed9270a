"""`filmcrew serve`: the chat in a web page, driven in headless Chromium like a user would.

Empty input is a notice on the page; a request becomes a plan table with Approve; approving shows the
crew's progress (stages, per-shot steps) and then a cut that plays (its <video> reports ~3 s); an edit ("drop the last shot") is approved into a shorter cut while the first cut stays listed
and playable; the page talks only to its own server; and a restarted server shows the same
conversation.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUEST = "A red ball drops onto a table and bounces. Calm piano."
SERVER = """
import sys, torch
from pathlib import Path
torch.set_num_threads(1)
from filmcrew.config import RunOptions
from filmcrew.web import serve
serve(Path(sys.argv[1]), port=int(sys.argv[2]),
      options=RunOptions(duration_s=3, width=128, height=72, candidates=1, beam=1))
"""
VIDEO_READY = """([src]) => { const v = document.querySelector('#cut video');
    return !!v && v.currentSrc !== '' && v.currentSrc !== src && v.readyState >= 1 && v.duration > 0; }"""
PLAY = "() => { const v = document.querySelector('#cut video'); v.muted = true; v.play(); }"
PLAYED = """() => { const v = document.querySelector('#cut video');
    if (v.currentTime > 0.5) { v.pause(); return true; } return false; }"""
# records every progress text the status tracker shows (the render may be too quick to poll)
WATCH = """() => { window.seen = [];
    new MutationObserver(() => document.querySelectorAll('.progress-level-inner').forEach(
        e => window.seen.push(e.innerText))).observe(document.body,
        {subtree: true, childList: true, characterData: true}); }"""
VIDEO = "() => { const v = document.querySelector('#cut video'); return [v.currentSrc, v.duration]; }"
# Gradio's dataframe: the visible rows are ARIA rows of grid cells (the <tbody> is a hidden sizer)
CELLS = "rows => rows.map(r => Array.from(r.querySelectorAll('[role=gridcell]')).map(c => c.innerText))"


def _chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI; the web page cannot be checked")
        pytest.skip(f"{CHROMIUM} not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _server(run_dir: Path, log: Path) -> Iterator[str]:
    """`serve` in a subprocess on a free port; killed on the way out, whatever happened."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(run_dir), str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=Path(__file__).resolve().parents[1])
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _say(page, text: str) -> None:
    page.fill("#message textarea", text)
    page.click("#send")


def _plan(page) -> tuple[int, float, str]:
    """Wait for the plan to await approval; (rows, total seconds, music line)."""
    page.wait_for_selector("#approve", state="visible", timeout=60_000)
    page.wait_for_selector("#plan-table [role=gridcell]", timeout=10_000)
    rows = [r for r in page.eval_on_selector_all("#plan-table [role=row]", CELLS) if r]
    assert all(len(r) == 4 and r[2] and r[3] for r in rows), rows  # shot, seconds, camera, what
    return len(rows), sum(float(r[1]) for r in rows), page.inner_text("#music")


def test_chat_page_plans_renders_edits_and_keeps_cuts(tmp_path):
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    run_dir, log = tmp_path / "chat", tmp_path / "server.log"
    problems: list[str] = []
    foreign: list[str] = []
    shot, frame_png = tmp_path / "page.png", tmp_path / "frame.png"
    with _server(run_dir, log) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("console", lambda m: problems.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.on("request", lambda r: foreign.append(r.url)
                    if not r.url.startswith((url, "data:", "blob:")) else None)
            page.goto(url, wait_until="load")

            # bad input is a message on the page, not a crash
            _say(page, "   ")
            # the page's first event also starts Gradio's queue: wait as long as for the plan
            page.wait_for_function("document.querySelector('#notice').innerText.includes('empty')",
                                   timeout=60_000)

            _say(page, REQUEST)
            rows, seconds, music = _plan(page)
            assert rows >= 2 and seconds == pytest.approx(3.0, abs=0.1)
            assert music.startswith("Music:") and "BPM" in music
            page.evaluate(WATCH)
            page.click("#approve")
            page.wait_for_function(VIDEO_READY, arg=[""], timeout=90_000)
            seen = set(page.evaluate("window.seen"))
            # the crew's stages and per-shot steps, e.g. "generate shot-1 … 3/8", "renderer done"
            assert any("renderer" in t for t in seen) and any("shot-" in t for t in seen), seen
            first_src, first = page.evaluate(VIDEO)
            assert first == pytest.approx(3.0, abs=0.25)
            page.screenshot(path=str(shot), full_page=True)
            page.evaluate(PLAY)
            page.wait_for_function(PLAYED, timeout=20_000)
            page.locator("#cut video").screenshot(path=str(frame_png))

            # an edit: one shot fewer, a shorter cut
            _say(page, "drop the last shot")
            rows2, seconds2, _ = _plan(page)
            assert rows2 == rows - 1 and seconds2 < seconds - 0.1
            page.click("#approve")
            page.wait_for_function(VIDEO_READY, arg=[first_src], timeout=90_000)
            _, second = page.evaluate(VIDEO)
            assert second == pytest.approx(seconds2, abs=0.25)
            # the first cut is still listed; choosing it plays it again
            second_src = page.evaluate(VIDEO)[0]
            page.click("#cuts input")
            page.wait_for_selector("[role=option]", timeout=5_000)
            options = page.locator("[role=option]").all_inner_texts()
            assert len(options) == 2 and options[0].startswith("cut 1 — 3.00 s"), options
            assert not any("/" in o for o in options), options  # no server paths
            page.locator("[role=option]", has_text="cut 1 —").click()
            page.wait_for_function(VIDEO_READY, arg=[second_src], timeout=20_000)
            assert page.evaluate(VIDEO)[1] == pytest.approx(first, abs=0.05)
            chat = page.inner_text("#chat")
            assert REQUEST in chat and "Cut 1" in chat
        finally:
            browser.close()
    assert not problems, problems
    assert not foreign, f"the page reached outside its server: {foreign}"
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert pixels.std() > 5  # not blank: a light page with text
    frame = np.asarray(Image.open(frame_png).convert("RGB"), np.float32)
    assert frame.shape[1] > 100 and frame.std() > 20  # the player shows a picture of the film

    # the conversation lives in the thread: a fresh server shows it again
    with _server(run_dir, log) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url, wait_until="load")
            page.wait_for_function("(document.querySelector('#chat')?.innerText ?? '').includes('Cut 2')",
                                   timeout=20_000)
            assert REQUEST in page.inner_text("#chat")
            page.wait_for_function(VIDEO_READY, arg=[""], timeout=20_000)
        finally:
            browser.close()
