"""The evaluation report: eval.json with per-run numbers and baseline deltas, and an eval.html that
opens on its own in a browser (no network, no scripts, no console errors) and shows something."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.eval.metrics import evaluate_run, evaluate_runs
from filmcrew.eval.report import write_report

REQUEST = "A rubber ball is dropped and bounces on the floor. Light piano."
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same film mixed at -14 LUFS (run) and at -18 LUFS (baseline)."""
    import torch

    torch.set_num_threads(1)
    out = {}
    for name, lufs in (("run", -14.0), ("baseline", -18.0)):
        d = tmp_path_factory.mktemp(name)
        opts = RunOptions(duration_s=3.0, width=160, height=96, fps=24, candidates=1, beam=1, seed=2,
                          target_lufs=lufs)
        assert runner.start(REQUEST, opts, d).status == "done"
        out[name] = d
    return out


@pytest.fixture(scope="module")
def written(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return evaluate_runs([runs["run"]], out, baseline=runs["baseline"], debug_models=True)


def test_json_holds_runs_baseline_and_deltas(written):
    json_path, _ = written
    doc = json.loads(json_path.read_text())
    run, base = doc["runs"][0], doc["baseline"]
    assert run["film"]["loudness"]["target"] == -14.0 and base["film"]["loudness"]["target"] == -18.0
    delta = doc["deltas"][0]
    assert delta["lufs"] == pytest.approx(4.0, abs=1.0)  # the baseline is about 4 LU quieter
    assert delta["lufs"] == pytest.approx(run["film"]["loudness"]["lufs"] - base["film"]["loudness"]["lufs"],
                                          abs=1e-3)
    assert delta["frames"] == 0
    assert doc["summaries"][0]["clip_score"] is not None  # tiny CLIP ran


def test_html_is_self_contained(written, runs):
    _, html_path = written
    html = html_path.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=\"(?!data:)", html), "only data: URIs may be referenced"
    assert "http://" not in html and "https://" not in html
    shots = evaluate_run(runs["run"], physics=False)["shots"]
    pngs = re.findall(r'src="data:image/png;base64,', html)
    assert len(pngs) >= 2 * len(shots) + 2  # run + baseline thumbnails, loudness and cost plots
    assert "Δ (run − baseline)" in html


def test_template_is_strict(runs, tmp_path):
    import jinja2

    result = evaluate_run(runs["run"], physics=False)
    del result["checks"]
    with pytest.raises(jinja2.UndefinedError):
        write_report([result], tmp_path)


def _chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI; the HTML report cannot be checked")
        pytest.skip(f"{CHROMIUM} not installed")


def test_html_opens_in_headless_chromium_without_errors(written, tmp_path):
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    _, html_path = written
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html_path.as_uri(), wait_until="load")
            widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert widths and all(w > 0 for w in widths), widths  # every embedded image decodes
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert pixels.shape[0] > 900  # a long page: tables, plots, thumbnails
    assert pixels.std() > 20  # not blank
