"""Scene fidelity: does the previz show the scene the plan tells, measured from the simulation.

The shot is re-simulated from its own request (same shot, annotation, fps and seed, like the physics
check) and every body's state is kept per frame (`previz.render.record_play`); nothing is read from the plan
alone. Checks, each passed or failed with a reason:

- presence: each planned subject has its count of bodies at the first frame; each scenery piece stands;
- relations: each starting relation (on, in, at the top of, beside, …) holds at the first frame;
- actions: each action is achieved inside its window (toppled past 60° or went over the edge, moved
  down the ramp, left the shelf, entered the bin, passed the rocks, went over the waterfall, shattered,
  melted by 20 %, …) and did not happen before it began.

Per shot: passed / total with the failures named; per run: the mean over the shots that have checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

TOPPLE_DEG = 60.0
GRACE_S = 0.6  # world seconds after an action's window in which it still counts as on time
EARLY_M = 0.15  # a body that moved further than this before its action began started early
MELT_FRACTION = 0.2


def not_applicable(reason: str) -> dict[str, Any]:
    return {"applicable": False, "reason": reason}


# --------------------------------------------------------------------------------------------------
# Geometry of the record


def _group_box(rec: Any, group: str, i: int) -> tuple[float, float, float, float] | None:
    boxes = []
    for n in rec.groups.get(group, []):
        p = rec.pos[n][i]
        if np.isfinite(p).all():
            w, h = rec.sizes[n]
            boxes.append((p[0] - w / 2, p[1] - h / 2, p[0] + w / 2, p[1] + h / 2))
    if not boxes:
        return None
    a = np.array(boxes)
    return (a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())


def _object_box(rec: Any, name: str, i: int) -> tuple[float, float, float, float] | None:
    p = next((q for q in rec.pieces if q.name == name), None)
    if p is not None:
        return p.box
    return _group_box(rec, name, i)


def _piece(rec: Any, name: str | None) -> Any | None:
    return next((q for q in rec.pieces if q.name == name), None)


def _frame(rec: Any, t: float) -> int:
    """The last frame at or before world time t (clipped to the shot)."""
    return int(np.clip(np.searchsorted(rec.times, t + 1e-9) - 1, 0, len(rec.times) - 1))


# --------------------------------------------------------------------------------------------------
# Relations at the first frame


def check_relation(rec: Any, subject: str, relation: str, obj: str) -> tuple[bool, str]:
    box = _group_box(rec, subject, 0)
    if box is None:
        if subject in rec.groups and _piece(rec, obj) is not None and _piece(rec, obj).surface is not None:
            return True, "a liquid in its water"
        return False, f"{subject} has no body at the first frame"
    ob = _object_box(rec, obj, 0)
    if ob is None:
        return False, f"{obj} is not in the scene"
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    p = _piece(rec, obj)
    tol = 0.04
    if relation in ("on", "in") and p is not None and p.surface is not None:
        lo = p.x0 - 0.5
        ok = lo <= cx <= p.x1 and p.bottom - tol <= cy <= p.surface + (y1 - y0)
        return ok, f"centre ({cx:.2f}, {cy:.2f}) {'in' if ok else 'not in'} the water"
    if relation == "in" and p is not None and p.span is not None:
        ok = p.span[0] - tol <= cx <= p.span[1] + tol and p.bottom - tol <= cy <= p.height + tol
        return ok, f"centre {'inside' if ok else 'outside'} the {obj}"
    if relation in ("on", "in") and p is not None and p.kind in ("ramp", "hill"):
        relation = "at the top of"
    if relation == "in" and p is None:  # in another subject: inside its box or on it
        ok = ob[0] - tol <= cx <= ob[2] + tol and ob[1] - tol <= y0 <= ob[3] + tol
        return ok, f"{'in' if ok else 'not in'} the {obj}"
    if relation == "on":
        top = p.top if p is not None and p.top is not None else ob[3]
        span = p.span if p is not None and p.span is not None else (ob[0], ob[2])
        ok = abs(y0 - top) <= tol and span[0] - tol <= cx <= span[1] + tol
        return ok, f"bottom at {y0:.2f} m, {obj} top at {top:.2f} m"
    if relation == "at the top of":
        high = ob[3]
        ok = y1 >= high - 0.05 and (p is None or p.kind not in ("ramp", "hill") or cx <= p.x0 + 0.6 * (p.x1 - p.x0))
        return ok, f"top of {subject} at {y1:.2f} m, {obj} up to {high:.2f} m"
    if relation == "at the bottom of":
        ok = y0 <= ob[1] + 0.3 and (cx >= ob[2] - 0.1 or cx <= ob[0] + 0.1)
        return ok, f"at ({cx:.2f}, {y0:.2f})"
    if relation in ("beside", "behind", "in front of", "against"):
        gap = max(ob[0] - x1, x0 - ob[2], 0.0)
        level = abs(y0 - ob[1]) <= 0.3 or (p is not None and p.top is not None and abs(y0 - p.top) <= 0.3)
        reach = 0.06 if relation == "against" else 1.0
        ok = gap <= reach and level
        return ok, f"gap {gap:.2f} m"
    if relation == "above":
        ok = y0 >= ob[3] - tol
        return ok, f"bottom {y0:.2f} m over top {ob[3]:.2f} m"
    if relation == "under":
        ok = y1 <= ob[3] + tol and ob[0] - tol <= cx <= ob[2] + tol
        return ok, f"under: {ok}"
    if relation == "hanging from":
        ok = subject in rec.pendulums
        return ok, "hangs from a pivot" if ok else "not hanging"
    return False, f"relation {relation!r} is not measured"


# --------------------------------------------------------------------------------------------------
# Actions in their windows


def _bodies(rec: Any, group: str) -> list[str]:
    return rec.groups.get(group, [])


def _moved_before(rec: Any, names: list[str], t0: float) -> bool:
    i = _frame(rec, t0 - 0.1)
    for n in names:
        p = rec.pos[n]
        if np.isfinite(p[0]).all() and np.isfinite(p[i]).all() and np.hypot(*(p[i] - p[0])) > EARLY_M:
            return True
    return False


def _share(flags: list[bool]) -> float:
    return float(np.mean(flags)) if flags else 0.0


def check_action(rec: Any, a: Any) -> tuple[bool | None, str]:
    """(passed, detail) of one action; passed None when the verb is not measured from bodies."""
    names = _bodies(rec, a.subject)
    verb, path = a.verb, a.path
    t0, t1 = a.t0, a.t1
    end = _frame(rec, t1 + GRACE_S)
    start = _frame(rec, t0)
    target_piece = _piece(rec, a.target)
    if not names:
        if _piece(rec, a.subject) is not None:
            return None, f"{a.subject} is scenery"
        return False, f"{a.subject} has no bodies"
    live = [n for n in names if np.isfinite(rec.pos[n][0]).all()]
    if not live and a.subject in rec.substances:
        return None, f"{a.subject} is a substance the phenomena draw (particles, not bodies)"
    if not live:
        return False, f"{a.subject} is not in the scene"
    earlier = [b for b in rec.spec.actions[: rec.spec.actions.index(a)] if b.subject == a.subject] \
        if a in rec.spec.actions else []
    moving = not earlier and verb not in ("rest", "shatter", "melt", "float", "burn", "boil", "freeze", "explode",
                          "reflect", "refract", "shine", "splash", "scatter", "land", "pour", "drip",
                          "flow", "rise", "grow", "spin")
    if moving and t0 > 0.2 and _moved_before(rec, live, t0):
        return False, "moved before its window began"

    def last(n: str) -> np.ndarray:
        """Last finite position at or before `end` (a shattered body keeps its biggest piece)."""
        p = rec.pos[n][: end + 1]
        ok = np.flatnonzero(np.isfinite(p[:, 0]))
        return p[ok[-1]] if len(ok) else p[0]

    d = {n: last(n) - rec.pos[n][0] for n in live}
    h = {n: rec.sizes[n][1] for n in live}
    w = {n: rec.sizes[n][0] for n in live}
    row = rec.spec.subject(a.subject) is not None and rec.spec.subject(a.subject).arrangement in (
        "row", "stack", "wall") and len(live) > 1
    if verb in ("topple", "collapse", "knock over") or (verb == "fall" and (path == "off" or row)):
        flags = []
        for n in live:
            turn = np.nanmax(np.abs(rec.angle[n][start:end + 1] - rec.angle[n][0])) if end >= start else 0
            flags.append(math.degrees(float(turn)) > TOPPLE_DEG or -d[n][1] > max(0.3, 3 * h[n])
                         or bool(rec.broken[n][end]))
        share = _share(flags)
        if path == "off" and target_piece is not None and target_piece.span is not None:
            off = _share([last(n)[0] > target_piece.span[1] or last(n)[0] < target_piece.span[0]
                          or last(n)[1] < (target_piece.top or 0) - 0.1 for n in live])
            return off >= 0.5, f"{off:.0%} left the {a.target}"
        return share >= 0.5, f"{share:.0%} toppled past {TOPPLE_DEG:g}° or fell"
    if path == "off" and target_piece is not None and target_piece.span is not None:
        off = _share([last(n)[0] > target_piece.span[1] + 0.01 or last(n)[0] < target_piece.span[0] - 0.01
                      or last(n)[1] < (target_piece.top or 0) - 0.1 for n in live])
        return off >= 0.5, f"{off:.0%} left the {a.target}"
    if verb == "shatter":
        share = _share([bool(rec.broken[n][end]) for n in live])
        return share >= 0.5, f"{share:.0%} shattered"
    if verb == "melt":
        share = _share([rec.scale[n][end] <= 1 - MELT_FRACTION for n in live])
        return share >= 0.5, f"scale {np.mean([rec.scale[n][end] for n in live]):.2f}"
    if verb == "rest":
        moved = max(float(np.hypot(*d[n])) for n in live)
        return moved <= 0.1, f"moved {moved:.2f} m"
    if verb == "swing":
        pivot = rec.pendulums.get(a.subject)
        if pivot is None:
            return False, "not hung from a pivot"
        p = rec.pos[live[0]][start:end + 1]
        ang = np.degrees(np.arctan2(p[:, 0] - pivot[0], pivot[1] - p[:, 1]))
        swept = float(np.nanmax(ang) - np.nanmin(ang)) if len(ang) else 0.0
        ok = swept >= 30.0
        detail = f"swept {swept:.0f}°"
        tgt = _bodies(rec, a.target or "")
        if ok and tgt:
            hit = _share([float(np.hypot(*(rec.pos[n][end] - rec.pos[n][0]))) > 0.1
                          for n in tgt if np.isfinite(rec.pos[n][end]).all()])
            ok = hit > 0
            detail += f", {hit:.0%} of the {a.target} knocked"
        return ok, detail
    if verb in ("drift", "float", "sink") or (verb in ("fall", "drop") and target_piece is not None
                                               and target_piece.kind == "waterfall"):
        n = live[0]
        tr = rec.pos[n]
        if path == "past" and a.target:
            tgt = [m for m in _bodies(rec, a.target) if np.isfinite(rec.pos[m][0]).all()]
            if not tgt:
                return False, f"no {a.target} to pass"
            right = max(rec.pos[m][0][0] for m in tgt)
            ok = last(n)[0] > right
            return ok, f"at x={last(n)[0]:.2f}, last {a.target} at {right:.2f}"
        if (target_piece is not None and target_piece.kind == "waterfall") or path == "over":
            fall = target_piece if target_piece is not None and target_piece.lip is not None else next(
                (q for q in rec.pieces if q.lip is not None), None)
            if fall is None:
                return False, "no waterfall"
            ok = last(n)[0] > fall.lip and last(n)[1] < fall.height - 0.4 * fall.drop
            return ok, f"at ({last(n)[0]:.2f}, {last(n)[1]:.2f}), lip at x={fall.lip:.2f}"
        if verb == "float":
            water = next((q for q in rec.pieces if q.surface is not None), None)
            if water is None:
                return False, "no water"
            seg = tr[start:end + 1]
            near = np.abs(seg[:, 1] - water.surface) <= max(h[n], 0.1)
            return _share(list(near)) >= 0.8, f"{_share(list(near)):.0%} of frames at the surface"
        if verb == "sink":
            return d[n][1] < -0.2, f"went down {-d[n][1]:.2f} m"
        dx = float(last(n)[0] - tr[start][0])
        ok = abs(dx) >= 0.5
        return ok, f"drifted {dx:.2f} m"
    if verb in ("roll", "slide", "bounce") and path == "down" and target_piece is not None \
            and target_piece.kind in ("ramp", "hill", "stairs"):
        n = live[0]
        drop = -float(d[n][1])
        slope = target_piece
        need = 0.5 * ((slope.height - slope.bottom) if slope is not None else 0.3)
        ok = drop >= need - 1e-6 and d[n][0] > 0
        return ok, f"came down {drop:.2f} m of {need * 2:.2f} m"
    if verb in ("glide", "fly", "throw", "launch", "land", "drop", "fall", "bounce", "roll", "slide",
                "push", "hit", "move", "jump"):
        n = live[0]
        goal = a.target
        if verb in ("glide", "fly") and goal is None:
            later = [b for b in rec.spec.actions if b.subject == a.subject and b.target and b.t0 >= a.t0
                     and b is not a]
            goal = later[0].target if later else None
        gp = _piece(rec, goal)
        if gp is not None and gp.span is not None and path in ("into", "in", None, "onto") and verb in (
                "land", "drop", "fall", "throw", "launch"):
            p = last(n)
            ok = gp.span[0] - 0.02 <= p[0] <= gp.span[1] + 0.02 and p[1] <= gp.height + 0.05 and p[1] >= gp.bottom - 0.05
            return ok, f"ended at ({p[0]:.2f}, {p[1]:.2f}) {'inside' if ok else 'outside'} the {goal}"
        if verb in ("glide", "fly"):
            seg = rec.pos[n][start:end + 1]
            travel = float(np.nanmax(np.abs(seg[:, 0] - seg[0, 0]))) if len(seg) else 0.0
            air = seg[: max(1, len(seg) // 2), 1] > (seg[0, 1] - 0.9 * max(seg[0, 1], 0.01)) + 0.05
            ok = travel >= 1.0 and _share(list(air)) >= 0.8
            return ok, f"flew {travel:.2f} m"
        if verb == "bounce":
            vy = np.diff(rec.pos[n][start:end + 1, 1])
            ups = int(np.sum((vy[:-1] < -1e-3) & (vy[1:] > 1e-3))) if len(vy) > 1 else 0
            return ups >= 1, f"{ups} bounces"
        if verb in ("drop", "fall"):
            drop = -float(d[n][1])
            return drop >= max(0.1, 2 * h[n]) or bool(rec.broken[n][end]), f"fell {drop:.2f} m"
        if verb == "jump":
            rise = float(np.nanmax(rec.pos[n][start:end + 1, 1]) - rec.pos[n][start, 1])
            return rise >= 0.1, f"rose {rise:.2f} m"
        tgt_names = _bodies(rec, goal or "")
        if path in ("across", "along", "through", "around", "up", "down") or (verb in ("roll", "slide", "move")
                                                                     and not tgt_names and gp is None):
            seg = rec.pos[n][start:end + 1]
            travel = float(np.nanmax(np.hypot(*(seg - seg[0]).T))) if len(seg) else 0.0
            return travel >= max(0.3, w[n]), f"travelled {travel:.2f} m"
        if tgt_names or gp is not None:  # reached what it is aimed at
            gaps = []
            for i in range(start, end + 1):
                me = rec.pos[n][i]
                if not np.isfinite(me).all():
                    continue
                ob = _object_box(rec, goal, i) if goal else None
                if ob is None:
                    continue
                gx = max(ob[0] - me[0], me[0] - ob[2], 0.0)
                gy = max(ob[1] - me[1], me[1] - ob[3], 0.0)
                gaps.append(math.hypot(gx, gy) - max(w[n], h[n]) / 2)
            best = min(gaps) if gaps else math.inf
            return best <= 0.08, f"closest {max(best, 0.0):.2f} m from the {goal}"
        moved = float(np.hypot(*d[n]))
        return moved >= max(0.3, w[n]), f"moved {moved:.2f} m"
    if verb == "scatter":
        flags = [float(np.hypot(*d[n])) >= max(0.15, 1.0 * w[n]) for n in live]
        return _share(flags) >= 0.5, f"{_share(flags):.0%} scattered"
    return None, f"{verb!r} is left to the phenomena"


# --------------------------------------------------------------------------------------------------


def fidelity_of_record(rec: Any) -> dict[str, Any]:
    """Checks of one re-simulated shot: presence, starting relations, actions in their windows."""
    from filmcrew.tools.video.previz.spec import count_of

    checks: list[dict[str, Any]] = []
    spec = rec.spec
    for s in spec.subjects:
        names = rec.groups.get(s.name, [])
        there = [n for n in names if np.isfinite(rec.pos[n][0]).all()]
        want = count_of(s)
        if not there and s.name in rec.substances:
            continue  # a liquid or gas: drawn by its phenomenon as particles, not counted as bodies
        liquid = not there and any(q.surface is not None for q in rec.pieces)
        ok = len(there) == want or (liquid and len(names) > 0)
        checks.append({"check": f"present: {s.name} ×{s.count}", "passed": bool(ok),
                       "detail": f"{len(there)} bodies" + (" (its water)" if liquid else "")})
    for sc in spec.scenery:
        ok = _piece(rec, sc.name) is not None
        checks.append({"check": f"scenery: {sc.name} ({sc.kind})", "passed": ok, "detail": ""})
    for r in spec.relations:
        ok, detail = check_relation(rec, r.subject, r.relation, r.object)
        checks.append({"check": f"start: {r.subject} {r.relation} {r.object}", "passed": bool(ok),
                       "detail": detail})
    unmeasured = []
    for a in spec.actions:
        ok, detail = check_action(rec, a)
        label = " ".join(x for x in (a.subject, a.verb, a.path or "", a.target or "") if x)
        label += f" [{a.t0:.1f}–{a.t1:.1f} s]"
        if ok is None:
            unmeasured.append(f"{label}: {detail}")
            continue
        checks.append({"check": f"action: {label}", "passed": bool(ok), "detail": detail})
    passed = sum(c["passed"] for c in checks)
    return {"applicable": True, "passed": passed, "total": len(checks),
            "score": round(passed / len(checks), 4) if checks else None,
            "failures": [f"{c['check']} ({c['detail']})" for c in checks if not c["passed"]],
            "checks": checks, "unmeasured": unmeasured}


def scene_fidelity(shot: Any, annotation: Any, *, fps: int, seed: int, width: int = 640,
                   height: int = 360) -> dict[str, Any]:
    """Scene fidelity of one previz shot, re-simulated from its request."""
    from filmcrew.tools.video.previz.render import record_play

    rec = record_play(shot, annotation, fps=fps, seed=seed, aspect=width / height)
    if rec is None:
        return not_applicable("the shot does not speak the scene language (no scene fields)")
    out = fidelity_of_record(rec)
    if not out["total"]:
        return not_applicable("nothing to check: no subjects, scenery, relations or actions")
    return out


def run_mean(shots: list[dict[str, Any]]) -> float | None:
    """Mean scene fidelity over the shots it applies to."""
    scores = [s["score"] for s in shots if s.get("applicable") and s.get("score") is not None]
    return round(float(np.mean(scores)), 4) if scores else None
