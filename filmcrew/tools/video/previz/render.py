"""Build a previz scene from a shot and run it: stage, bodies, phenomena, then the frame loop.

Every shot is run twice from the same seed. The rehearsal (`rehearse`) simulates it without drawing,
so the camera knows where the action goes (`framing`); then `render_shot` runs the loop in plain
sight: for each frame, step every phenomenon and the pymunk space in fixed sub-steps of world time,
take the planned view and draw stage, subjects, phenomena and overlay. Physics is simulated, never
keyframed: phenomena set initial conditions and forces, and what the viewer sees is what the
integrator produced.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pymunk

from filmcrew.schemas import PhysicsAnnotation, Shot
from filmcrew.tools.video.previz import draw
from filmcrew.tools.video.previz import overlay as overlay_text
from filmcrew.tools.video.previz.active import ORDER, active_phenomena
from filmcrew.tools.video.previz.bodies import (  # noqa: F401  (CT_FRAGMENT, Stage: imported from here)
    CT_FRAGMENT,
    CT_GROUND,
    CT_SUBJECT,
    GRAVITY,
    Stage,
    add_floor,
    build_bodies,
    main_subject,
    mass_kg,
    place_background,
    staging_frame,
)
from filmcrew.tools.video.previz.framing import Rehearsal, Setup, plan_views
from filmcrew.tools.video.previz.particles import Particles
from filmcrew.tools.video.previz.props import SimClock
from filmcrew.tools.video.previz.scene import REGISTRY, Canvas, Phenomenon, Scene, SubjectBody
from filmcrew.tools.video.previz.vessels import Held, draw_held, held_pairs

#: Modules whose import registers phenomena; the last three may not exist yet.
OPTIONAL_MODULES = ("fluids", "thermo", "optics")


SUBSTEP_S = 1 / 240  # largest world-time step for rigid bodies; sub-steps per frame are fixed
MAX_SUBSTEPS = 32  # time-lapse caps the cost: a 60x shot steps 2.5 s per frame in 32 steps...
RIGID_MAX_S = 1 / 120  # ...but a rigid-body step never exceeds this (contacts stay stable), so in a
# time-lapse rigid bodies advance up to 32/120 s per frame: things at rest stay on their support
IMPACT_MIN_SPEED = 0.5  # m/s closing speed: slower contacts are resting jitter, not hits
IMPACT_DEBOUNCE_S = 0.08  # screen seconds between impact events of the same pair


def load_phenomena() -> None:
    """Import every module that registers phenomena; a helper's module that does not exist is skipped."""
    importlib.import_module("filmcrew.tools.video.previz.dynamics")
    for name in OPTIONAL_MODULES:
        full = f"filmcrew.tools.video.previz.{name}"
        try:
            importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name != full:
                raise


# --------------------------------------------------------------------------------------------------
# Impacts


def _install_impacts(scene: Scene, phenomena: list[Phenomenon]) -> None:
    """Contacts of subjects with the ground and with each other become "impact" events; phenomena
    with an `on_impact(subject, other, impulse, speed)` method (fracture, squash) hear about them.

    Measured when the shapes first touch, before the solver acts: `speed` is the closing speed of the
    contact points along the normal (what breaks a glass), `impulse` the momentum change it implies.
    """
    last: dict[tuple[int, int], float] = {}

    def begin(arb: pymunk.Arbiter, space: pymunk.Space, data: object) -> None:
        sa, sb_ = arb.shapes
        ba, bb = sa.body, sb_.body
        n = arb.normal
        speed = 0.0
        for cp in arb.contact_point_set.points:
            rel = ba.velocity_at_world_point(cp.point_a) - bb.velocity_at_world_point(cp.point_b)
            speed = max(speed, float(rel.dot(n)))
        if speed < IMPACT_MIN_SPEED:
            return
        inv = sum(1 / b.mass for b in (ba, bb) if b.body_type == pymunk.Body.DYNAMIC)
        impulse = (1 + arb.restitution) * speed / inv if inv > 0 else 0.0
        a, b = getattr(sa, "subject", None), getattr(sb_, "subject", None)
        key = (id(a), id(b))
        t = scene.t / scene.time_scale
        if t - last.get(key, -1.0) >= IMPACT_DEBOUNCE_S:
            last[key] = t
            scene.emit("impact", 0.55 * min(speed / 6, 1) + 0.45 * min(math.log10(1 + impulse) / 4, 1))
        for me, other, shape in ((a, b, sa), (b, a, sb_)):
            if me is None or shape.body.body_type != pymunk.Body.DYNAMIC:
                continue
            for p in phenomena:
                hook = getattr(p, "on_impact", None)
                if hook is not None:
                    hook(me, other, impulse, speed)

    scene.space.on_collision(CT_SUBJECT, CT_GROUND, begin=begin)
    scene.space.on_collision(CT_SUBJECT, CT_SUBJECT, begin=begin)


def _buoyancy(scene: Scene, dt: float) -> None:
    """Water setting: a body floats by its density and is slowed by the water it is in."""
    for sb in scene.subjects:
        body = sb.body
        if body is None or body.body_type != pymunk.Body.DYNAMIC:
            continue
        h = sb.size_m[1]
        f = min(1.0, max(0.0, (scene.ground_y - (body.position.y - h / 2)) / h))
        if f > 0:
            rho = body.mass / max(mass_kg(sb, 1.0), 1e-9)
            vx, vy = body.velocity
            vy += 1000.0 / rho * f * GRAVITY * dt
            speed = math.hypot(vx, vy)
            damp = 1 / (1 + (4.0 + 3.0 * speed) * f * dt)  # linear plus quadratic water drag
            body.velocity = (vx * damp, vy * damp)
            body.angular_velocity *= damp


# --------------------------------------------------------------------------------------------------
# The loop


def substeps(scene: Scene) -> tuple[int, float]:
    """Sub-steps per frame and their world-time length: at most SUBSTEP_S, at most MAX_SUBSTEPS."""
    frame_dt = scene.time_scale / scene.fps
    n = min(MAX_SUBSTEPS, max(1, math.ceil(frame_dt / SUBSTEP_S - 1e-9)))
    return n, frame_dt / n


def build_scene(shot: Shot, annotation: PhysicsAnnotation | None, aspect: float, seed: int,
                fps: int) -> tuple[Scene, Stage, list[SubjectBody], list[Phenomenon]]:
    """The world of a shot at its first frame: stage, bodies, staging frame, staged motion, phenomena.

    Returns the scene, the stage, the background subjects and the phenomena (dynamics first).
    """
    load_phenomena()
    space = pymunk.Space()
    space.gravity = (0.0, 0.0) if shot.setting == "space" else (0.0, -GRAVITY)
    space.collision_slop = 0.0005  # pymunk's defaults assume pixels; we work in metres
    space.iterations = 20
    from filmcrew.tools.video.previz.spec import scene_spec

    spec = scene_spec(shot)
    play = None
    if spec is not None and spec.staged:
        from filmcrew.tools.video.previz.stagecraft import build_play, set_frame

        subjects, stage, background, play = build_play(shot, annotation, space, spec)
        view0 = set_frame(play, shot, aspect)
    else:
        subjects, stage, background = build_bodies(shot, annotation, space)
        view0 = staging_frame(shot, subjects, stage, aspect)
    vw = view0[2] - view0[0]
    stage.decor_m = 10 ** math.floor(math.log10(vw / 4))
    if shot.setting == "indoor" and play is None:
        stage.walls = (view0[0] - 0.3 * vw, view0[2] + 0.3 * vw)
        for wx in stage.walls:
            wall = pymunk.Segment(space.static_body, (wx, -1e3), (wx, 1e3), 0.0)
            wall.elasticity, wall.friction, wall.collision_type = 1.0, 0.8, CT_GROUND
            space.add(wall)
    if shot.setting == "water" and play is None:
        stage.seabed_y = view0[1] + 0.06 * (view0[3] - view0[1])
        add_floor(space, stage.seabed_y, elasticity=0.2)
    place_background(background, view0, stage)
    scene = Scene(shot=shot, annotation=annotation, space=space, rng=np.random.default_rng(seed),
                  world=view0, ground_y=stage.ground_y, fps=float(fps),
                  time_scale=shot.camera.time_scale, subjects=subjects, play=play)
    from filmcrew.tools.video.previz import staging

    staging.stage(scene, self_propelled=True)  # walkers walk and cars drive whatever is annotated
    phenomena: list[Phenomenon] = []
    _install_impacts(scene, phenomena)  # the handler sees the list filled below
    if play is not None:  # the plan's actions drive the bodies first; phenomena act on top
        from filmcrew.tools.video.previz.stagecraft import PlayDriver

        phenomena.append(PlayDriver(scene, play))
    for name in active_phenomena(shot, annotation):
        phenomena.append(REGISTRY[name](scene))
    return scene, stage, background, phenomena


def _advance(scene: Scene, phenomena: list[Phenomenon], n_sub: int, dt: float, i: int) -> None:
    """Step the world from frame i - 1 to frame i: phenomena, buoyancy and rigid bodies per sub-step."""
    rigid = min(dt, RIGID_MAX_S)
    for _ in range(n_sub):
        for p in phenomena:
            p.step(dt)
        if scene.shot.setting == "water" and scene.play is None:
            _buoyancy(scene, rigid)
        scene.space.step(rigid)
        scene.t += dt
    scene.t = i * n_sub * dt  # no drift from summing sub-steps


def _tracked(sb: SubjectBody, background: set[int]) -> bool:
    """Whether the camera may follow this subject: a foreground body drawn where its body is."""
    return (sb.body is not None and bool(sb.shapes) and sb.visible and id(sb) not in background
            and (sb.drawn_by is None or sb.drawn_by in ORDER))


def rehearse(shot: Shot, annotation: PhysicsAnnotation | None, *, aspect: float, fps: int,
             seed: int, total: int) -> tuple[Rehearsal, Setup]:
    """Run the shot once without drawing, to see where its subjects and effects go.

    Same seed, same physics: the rendered run repeats this one exactly. Phenomena that move no
    bodies (`moves_bodies = False`, a liquid) are not stepped here; the particle clocks are told
    each frame is done, as drawing would.
    """
    scene, stage, background, phenomena = build_scene(shot, annotation, aspect, seed, fps)
    stepped = [p for p in phenomena if p.moves_bodies]
    clocks = [v for p in phenomena for v in vars(p).values() if isinstance(v, SimClock)]
    pools = [v for p in phenomena for v in vars(p).values() if isinstance(v, Particles)]
    back = {id(sb) for sb in background}
    n_sub, dt = substeps(scene)
    tracks: dict[str, np.ndarray] = {}
    effects = np.full((total, 4), np.nan)
    for i in range(total):
        if i:
            _advance(scene, stepped, n_sub, dt, i)
        for clock in clocks:
            clock.frame()
        for sb in scene.subjects:
            if _tracked(sb, back):
                tracks.setdefault(sb.name, np.full((total, 2), np.nan))[i] = sb.position
        alive = [p.pos[p.alive] for p in pools if p.alive.any()]
        if alive and sum(map(len, alive)) >= 5:
            lo, hi = np.quantile(np.concatenate(alive), [0.02, 0.98], axis=0)
            effects[i] = (lo[0], lo[1], hi[0], hi[1])
    by_name = {sb.name: sb for sb in scene.subjects}
    roles = {s.name: s.role for s in shot.subjects}
    sizes = {n: by_name[n].size_m for n in tracks}
    if scene.play is not None:  # the set is in the shot: the shelf they fall off, the bin it lands in
        from filmcrew.tools.video.previz.stagecraft import scenery_tracks

        for name, (track, size, role) in scenery_tracks(scene.play, total).items():
            tracks[name], sizes[name], roles[name] = track, size, role
    rehearsal = Rehearsal(tracks=tracks, sizes=sizes, roles=roles,
                          events=list(scene.events), effects=effects, fps=float(fps))
    grounded = shot.setting not in ("sky", "space", "water")
    table = ((stage.table[0], stage.floor_y or 0.0, stage.table[1], stage.ground_y)
             if stage.table else None)
    if scene.play is not None:
        grounded = grounded and not any(p.surface is not None for p in stage.pieces)
    follow = main_subject(scene.subjects, shot)
    setup = Setup(scale=shot.camera.scale, move=shot.camera.move, aspect=aspect, staging=scene.world,
                  floor_y=stage.floor_y if grounded else None, table=table,
                  follow=follow.name if follow is not None and _tracked(follow, back) else None)
    return rehearsal, setup


def _label_anchors(subjects: list[SubjectBody], held: list[Held]) -> list[tuple[str, float, float]]:
    """(text, x, top) in metres for each labelled subject; a held liquid is labelled at its glass."""
    out = []
    for sb in subjects:
        if sb.drawn_by is None and sb.body is not None and sb.visible and sb.label:
            x, y = sb.position
            out.append((sb.label, x, y + sb.size_m[1] * max(sb.scale, 0.2) / 2))
    for hd in held:
        c = hd.container
        if hd.intact and hd.volume > 0 and hd.liquid.label and c.body is not None:
            x, y = c.position
            out.append((hd.liquid.label, x, y + c.size_m[1] * max(c.scale, 0.2) / 2))
    return out


def render_shot(shot: Shot, annotation: PhysicsAnnotation | None, *, width: int, height: int,
                fps: int, seed: int, shot_number: int, overlay: bool,
                progress: Callable[[int, int], None] | None
                ) -> tuple[np.ndarray, Scene, dict[str, np.ndarray], np.ndarray]:
    """Simulate and draw one shot; returns frames (T,H,W,3), the scene, world tracks and views."""
    total = round(shot.duration_s * fps)
    if total < 1:
        raise ValueError(f"shot {shot.id}: {shot.duration_s} s at {fps} fps is no frames")
    rehearsal, setup = rehearse(shot, annotation, aspect=width / height, fps=fps, seed=seed,
                                total=total)
    views = plan_views(rehearsal, setup)
    scene, stage, background, phenomena = build_scene(shot, annotation, width / height, seed, fps)
    subjects = scene.subjects
    held = [Held.fill(liquid, box) for liquid, box in held_pairs(subjects, shot) if box.body is not None]
    n_sub, dt = substeps(scene)

    back_ids = {id(sb) for sb in background}
    haze = draw.backdrop_colour(stage)
    tags = annotation.phenomena if annotation is not None else []
    frames = np.empty((total, height, width, 3), np.uint8)
    tracks = {sb.name: np.full((total, 2), np.nan) for sb in subjects}
    for i in range(total):
        if i:
            _advance(scene, phenomena, n_sub, dt, i)
        canvas = Canvas(draw.backdrop(stage, width, height), tuple(views[i]))
        if scene.play is not None:
            from filmcrew.tools.video.previz.stagecraft import draw_set_back

            draw_set_back(canvas, stage, scene.t)
        else:
            draw.stage(canvas, stage)
        for sb in background:
            if sb.drawn_by is None:
                draw.subject(canvas, sb, background=haze)
        for sb in subjects:
            if sb.drawn_by is None and id(sb) not in back_ids:
                draw.subject(canvas, sb)
        for hd in held:  # a glass of water no phenomenon pours: the water stands in the glass
            if hd.liquid.drawn_by is None and hd.intact:
                draw_held(canvas, hd)
        if scene.play is not None:
            from filmcrew.tools.video.previz.stagecraft import draw_set_front

            draw_set_front(canvas, stage, scene.t)
        for p in phenomena:
            p.draw(canvas)
        if scene.play is None:
            draw.water_front(canvas, stage)
        if overlay:
            overlay_text.labels(canvas, _label_anchors(subjects, held))
            overlay_text.overlay(canvas, shot_number, shot.local_prompt, i / fps, fps, tags,
                         shot.camera.time_scale)
        frames[i] = np.asarray(canvas.image)
        for sb in subjects:  # phenomena may add props (a puddle, a vent) as the shot goes
            if sb.body is not None:
                tracks.setdefault(sb.name, np.full((total, 2), np.nan))[i] = sb.position
        if progress is not None:
            progress(i + 1, total)
    return frames, scene, tracks, views


def record_play(shot: Shot, annotation: PhysicsAnnotation | None, *, fps: int, seed: int,
                aspect: float = 16 / 9) -> Any:
    """Re-simulate a staged shot exactly as the renderer does (same seed, same steps) and keep every
    body's state per frame (a stagecraft.PlayRecord); None when the shot does not speak the scene
    language."""
    from filmcrew.tools.video.previz.stagecraft import PlayRecord

    scene, _stage, _, phenomena = build_scene(shot, annotation, aspect, seed, fps)
    play = scene.play
    if play is None:
        return None
    total = round(shot.duration_s * fps)
    n_sub, dt = substeps(scene)
    names = [sb.name for g in play.groups.values() for sb in g.bodies]
    by_name = {sb.name: sb for sb in scene.subjects}
    pos = {n: np.full((total, 2), np.nan) for n in names}
    ang = {n: np.full(total, np.nan) for n in names}
    broken = {n: np.zeros(total, bool) for n in names}
    scale = {n: np.ones(total) for n in names}
    times = np.zeros(total)
    for i in range(total):
        if i:
            _advance(scene, phenomena, n_sub, dt, i)
        times[i] = scene.t
        for n in names:
            sb = by_name.get(n)
            if sb is None or sb.body is None or not sb.visible:
                continue
            pos[n][i] = sb.position
            ang[n][i] = float(sb.body.angle)
            broken[n][i] = sb.drawn_by == "collision"
            scale[n][i] = sb.scale
    return PlayRecord(
        spec=play.spec, pieces=play.pieces,
        groups={k: [sb.name for sb in g.bodies] for k, g in play.groups.items()},
        sizes={sb.name: sb.size_m for g in play.groups.values() for sb in g.bodies},
        pos=pos, angle=ang, broken=broken, scale=scale,
        pendulums={pd.group: pd.pivot for pd in play.pendulums}, times=times,
        gravity=-float(scene.space.gravity.y),
        substances={k for k, g in play.groups.items() if g.bodies[0].material.state != "solid"})
