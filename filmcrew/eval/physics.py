"""Physics checks the previz can measure exactly: a body in free flight accelerates at g.

A previz shot is deterministic given its shot, annotation, size, fps and seed, so the evaluation
re-simulates it to learn the camera (metres per pixel, per frame) and which subject is in free flight
when; the motion itself is then measured from the pixels of the finished film, the way a viewer
would see it: the subject is found by its material colour, its centroid converted to metres with
the camera view, and a parabola fitted to its height. The re-simulation is checked to be the recorded
one (same tool parameters hash) before any number is reported; anything else is "not measurable".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from filmcrew.tools.video import previz_request

G = 9.81
MIN_FRAMES = 8  # fewer frames of free flight do not pin a parabola down
MAX_SIGMA_REL = 0.05  # a fit less certain than ±5 % of g checks nothing
REL_TOL = 0.10  # g within 10 %: a few frames of H.264 at small sizes blur a centroid by ~0.5 px
MIN_DROP_PX = 3.0  # a fall of fewer pixels is not seen
MAX_TIME_SCALE = 2.0  # faster than ×2 a 1 m fall is over in under 8 frames
TRACK_TOL_PX = 1.5  # how far the colour centroid may sit from the body's centre on a clean frame
COLOR_TOL = 60  # L1 distance in RGB: H.264 at small sizes shifts flat colours by tens of levels


def not_measurable(reason: str) -> dict[str, Any]:
    return {"measurable": False, "reason": reason}


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of consecutive True values in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def free_flight(y: np.ndarray, fps: float, *, min_frames: int = 5) -> list[tuple[int, int]]:
    """[a, b) frame spans of the simulated height `y` where the body flies freely: the vertical
    acceleration points down and stays steady (a contact, a bounce or a tip over an edge breaks it).

    The acceleration is not assumed to be g: steadiness is judged against the median of each
    stretch, so a wrong gravity in the simulation shows as a wrong measured g, not as "not measurable".
    """
    y = np.asarray(y, float)
    if len(y) < 3:
        return []
    acc = (y[2:] - 2 * y[1:-1] + y[:-2]) * fps**2  # acc[k] is at frame k + 1
    down = np.isfinite(acc) & (acc < 0)
    spans = []
    for k, m in _true_runs(down):  # downward stretches acc[k:m]
        run = acc[k:m]
        med = float(np.median(run))
        steady = np.abs(run - med) <= 0.15 * abs(med) + 0.05
        for i, j in _true_runs(steady):  # contiguous steady pieces: acc[k+i : k+j]
            a, b = k + i, k + j + 2  # acc frames k+i+1 .. k+j, and one frame either side
            if b - a >= min_frames:
                spans.append((a, b))
    return spans


def _design(t: list[np.ndarray]) -> np.ndarray:
    """Columns: the shared t², then (1, t) of each arc on its own rows."""
    n = sum(len(a) for a in t)
    cols = [np.concatenate(t) ** 2]
    off = 0
    for arc in t:
        for p in (0, 1):
            c = np.zeros(n)
            c[off:off + len(arc)] = arc**p
            cols.append(c)
        off += len(arc)
    return np.stack(cols, axis=1)


def fit_gravity(t: list[np.ndarray], y: list[np.ndarray], *, floor_m: float = 0.0
                ) -> tuple[float, float, float, int]:
    """One parabola per arc with a shared quadratic term, fitted robustly: points further than
    3 robust sigmas (and `floor_m`, about a pixel) from the fit are dropped and the fit repeated,
    because a centroid is pulled off the body while it overlaps something of a similar colour.
    Returns (g in the time unit of `t`, its standard error, rms residual of the kept points in
    metres, points dropped).
    """
    A, rhs = _design(t), np.concatenate(y)
    keep = np.ones(len(rhs), bool)
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(A[keep], rhs[keep], rcond=None)
        r = rhs - A @ coef
        mad = float(np.median(np.abs(r[keep] - np.median(r[keep])))) * 1.4826
        new = np.abs(r) <= max(3.0 * mad, floor_m)
        if new.sum() < MIN_FRAMES or np.array_equal(new, keep):
            break
        keep = new
    coef, *_ = np.linalg.lstsq(A[keep], rhs[keep], rcond=None)
    resid = A[keep] @ coef - rhs[keep]
    rms = float(np.sqrt(np.mean(resid**2)))
    dof = max(1, int(keep.sum()) - A.shape[1])
    var = float(resid @ resid) / dof * float(np.linalg.pinv(A[keep].T @ A[keep])[0, 0])
    return -2.0 * float(coef[0]), 2.0 * float(np.sqrt(var)), rms, int((~keep).sum())


def _centroid(frame: np.ndarray, color: tuple[int, int, int], near: tuple[float, float],
              max_dist: float) -> tuple[float, float] | None:
    """Pixel centroid (x, y) of the blob of `color` nearest `near`; None if none is within reach."""
    from scipy import ndimage

    mask = np.abs(frame.astype(np.int16) - np.array(color, np.int16)).sum(-1) <= COLOR_TOL
    labels, n = ndimage.label(mask)
    if n == 0:
        return None
    cents = np.array(ndimage.center_of_mass(mask, labels, range(1, n + 1)))  # (row, col)
    d = np.hypot(cents[:, 1] - near[0], cents[:, 0] - near[1])
    k = int(np.argmin(d))
    if d[k] > max_dist:
        return None
    return float(cents[k, 1]), float(cents[k, 0])


def measure_gravity(frames: np.ndarray, clip_index: np.ndarray, *, shot: Any, annotation: Any,
                    width: int, height: int, fps: int, seed: int, shot_number: int, style: str,
                    overlay: bool, recorded_hash: str | None) -> dict[str, Any]:
    """g measured from the film's frames of one previz shot, or why it cannot be measured.

    `frames` are the shot's frames as they appear in the film (cross-faded ones left out) and
    `clip_index[i]` the frame of the shot's clip that film frame i shows.
    """
    from filmcrew.artifacts import params_hash
    from filmcrew.catalog import MATERIALS
    from filmcrew.tools.video import PREVIZ_VERSION
    from filmcrew.tools.video.previz import render_previz

    params = previz_request(shot, annotation, width=width, height=height, fps=fps,
                           shot_number=shot_number, style=style, overlay=overlay)
    if recorded_hash is not None and params_hash("previz", PREVIZ_VERSION, params, seed=seed) != recorded_hash:
        return not_measurable("re-simulation parameters differ from the recorded previz call")
    expected = 0.0 if shot.setting == "space" else G
    time_scale = shot.camera.time_scale
    if expected == 0.0:
        return not_measurable("no gravity in space: nothing falls")
    if time_scale > MAX_TIME_SCALE:
        return not_measurable(f"time-lapse ×{time_scale:g}: a fall lasts too few frames to measure")
    if len(frames) < MIN_FRAMES:
        return not_measurable(f"only {len(frames)} frames of the shot are in the film")
    sim = render_previz(shot, annotation, width=width, height=height, fps=fps, seed=seed,
                        shot_number=shot_number, style=style, overlay=overlay)
    ppm_min = float(np.min(width / (sim.views[clip_index, 2] - sim.views[clip_index, 0])))
    best: dict[str, Any] | None = None
    falling: list[str] = []  # subjects the simulation has in free flight
    imprecise: list[str] = []  # ... tracked, but too few or too noisy points to check g
    for subject in shot.subjects:
        track = sim.tracks.get(subject.name)
        material = MATERIALS.get(subject.material)
        if track is None or material is None or subject.role == "background":
            continue
        arcs_t, arcs_y = [], []
        spans = []
        for a, b in free_flight(track[clip_index, 1], fps):
            y = track[clip_index[a:b], 1]
            acc = np.median(np.diff(y, 2)) * fps**2
            # a fall the camera can see (≥ 3 px) at a pace that is a fall, not a creep (a melting
            # or sinking body): at least a quarter of g in screen time
            if (np.ptp(y) * ppm_min >= MIN_DROP_PX
                    and -acc >= 0.25 * expected * time_scale**2):
                spans.append((a, b))
        if spans:
            falling.append(subject.name)
        for a, b in spans:
            t, ys = [], []
            for i in range(a, b):
                x0, _, x1, y1 = sim.views[clip_index[i]]
                ppm = width / (x1 - x0)
                wx, wy = track[clip_index[i]]
                near = ((wx - x0) * ppm, (y1 - wy) * ppm)
                reach = max(4.0, 0.1 * width)
                # The tracker is trusted only where, on the simulation's own (lossless) frame, it
                # finds the body where the body is: not where it overlaps something of its colour.
                ref = _centroid(sim.frames[clip_index[i]], material.color, near, max_dist=reach)
                if ref is None or np.hypot(ref[0] - near[0], ref[1] - near[1]) > TRACK_TOL_PX:
                    continue
                c = _centroid(frames[i], material.color, near, max_dist=reach)
                if c is not None:
                    t.append(i / fps)
                    ys.append(y1 - (c[1] + 0.5) / ppm)
            if len(t) >= 4:
                arcs_t.append(np.array(t))
                arcs_y.append(np.array(ys))
        used = sum(len(a) for a in arcs_t)
        if used < MIN_FRAMES:
            continue
        g_screen, sigma, rms, dropped = fit_gravity(arcs_t, arcs_y, floor_m=1.0 / ppm_min)
        g_world, sigma = g_screen / time_scale**2, sigma / time_scale**2
        rel = abs(g_world - expected) / expected
        if sigma > MAX_SIGMA_REL * expected:
            imprecise.append(f"{subject.name} (±{100 * sigma / expected:.0f} %)")
            continue
        out = {"measurable": True, "check": "free fall", "subject": subject.name,
               "material": subject.material, "frames": used - dropped, "dropped": dropped,
               "arcs": len(arcs_t), "g_measured": round(g_world, 3), "g_sigma": round(sigma, 3),
               "g_expected": expected, "rel_error": round(rel, 4), "passed": bool(rel <= REL_TOL),
               "time_scale": time_scale, "fit_rms_m": round(rms, 5)}
        if best is None or out["frames"] > best["frames"]:
            best = out
    if best is None and imprecise:
        return not_measurable(f"g of {', '.join(imprecise)} too uncertain to check")
    if best is None and falling:
        return not_measurable(f"{', '.join(falling)} in free flight but not trackable by colour in "
                              "enough frames (overlapping or hidden)")
    if best is None:
        return not_measurable("no subject is in free flight long enough to measure g")
    return best
