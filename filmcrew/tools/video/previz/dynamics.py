"""Dynamics phenomena: rigid body motion, collision (with fracture), elastic motion, deformation.

The first of them that a shot has stages its passive subjects (`staging.stage`: dropped, knocked,
thrown, rolled, aimed at each other); then pymunk integrates. Collision breaks brittle subjects into
fragment bodies, elastic motion adds squash and stretch, deformation swaps a subject for a spring-mass
ring. The renderer reports contacts to each phenomenon's `on_impact(subject, other, impulse, speed)`.
"""

from __future__ import annotations

import math

import numpy as np
import pymunk

from filmcrew.tools.video.previz.active import ORDER, active_phenomena
from filmcrew.tools.video.previz.draw import shade
from filmcrew.tools.video.previz.render import CT_FRAGMENT, CT_SUBJECT, substeps
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, SubjectBody, register
from filmcrew.tools.video.previz.staging import movable, stage

SHATTER_SPEED = 2.0  # m/s impact speed that breaks glass or ceramic (a fall of about 20 cm)


def _area(pts: list[tuple[float, float]]) -> float:
    """Shoelace area of a polygon."""
    pairs = zip(pts, pts[1:] + pts[:1], strict=True)
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def _leads_staging(scene: Scene, name: str) -> bool:
    """The first active dynamics phenomenon stages the passive subjects, once."""
    first = next((n for n in active_phenomena(scene.shot, scene.annotation) if n in ORDER), None)
    return first == name


# --------------------------------------------------------------------------------------------------


@register
class RigidBodyMotion(Phenomenon):
    """Subjects fall, slide, roll or fly as the events say; pymunk does the rest."""

    name = "rigid body motion"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        if _leads_staging(scene, self.name):
            stage(scene, self_propelled=False)


@register
class Collision(Phenomenon):
    """Bodies on a collision course; brittle ones break into fragments above an impact threshold."""

    name = "collision"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        if _leads_staging(scene, self.name):
            stage(scene, self_propelled=False)
        self.pending: list[tuple[SubjectBody, float]] = []
        self.broken: set[int] = set()
        self.fragments: list[tuple[SubjectBody, pymunk.Poly]] = []

    def on_impact(self, sb: SubjectBody, other: SubjectBody | None, impulse: float, speed: float
                  ) -> None:
        if sb.material.brittle and speed > SHATTER_SPEED and id(sb) not in self.broken:
            self.broken.add(id(sb))
            self.pending.append((sb, speed))

    def step(self, dt: float) -> None:
        # Shapes cannot be removed inside a collision callback, so fracture waits for the next step.
        while self.pending:
            self._shatter(*self.pending.pop())

    def _shatter(self, sb: SubjectBody, speed: float) -> None:
        body, space, rng = sb.body, self.scene.space, self.scene.rng
        if body is None or body.space is None:
            return
        w, h = sb.size_m[0] * sb.scale, sb.size_m[1] * sb.scale
        cols, rows = (2, 3) if h >= w else (3, 2)
        # A jittered lattice over the body's box: neighbouring pieces share edges, like real cracks.
        gx = np.linspace(-w / 2, w / 2, cols + 1)[None, :].repeat(rows + 1, 0)
        gy = np.linspace(-h / 2, h / 2, rows + 1)[:, None].repeat(cols + 1, 1)
        # Inner lattice points move freely; points on the outline slide only along it.
        gx = gx + rng.uniform(-0.2, 0.2, gx.shape) * w / cols * (gx > -w / 2) * (gx < w / 2)
        gy = gy + rng.uniform(-0.2, 0.2, gy.shape) * h / rows * (gy > -h / 2) * (gy < h / 2)
        pieces = []
        for r in range(rows):
            for c in range(cols):
                quad = [(gx[r, c], gy[r, c]), (gx[r, c + 1], gy[r, c + 1]),
                        (gx[r + 1, c + 1], gy[r + 1, c + 1]), (gx[r + 1, c], gy[r + 1, c])]
                pieces += [quad[:3], [quad[0], quad[2], quad[3]]] if rng.random() < 0.5 else [quad]
        areas = [_area(p) for p in pieces]
        spread = 0.3 * speed
        new: list[tuple[pymunk.Body, pymunk.Poly]] = []
        for verts, area in zip(pieces, areas, strict=True):
            cx, cy = np.mean(verts, axis=0)
            local = [(vx - cx, vy - cy) for vx, vy in verts]
            m = body.mass * area / sum(areas)
            fb = pymunk.Body(m, pymunk.moment_for_poly(m, local))
            fb.position = body.local_to_world((cx, cy))
            fb.angle = body.angle
            out = math.atan2(cy, cx) + float(rng.uniform(-0.6, 0.6))
            kick = spread * float(rng.uniform(0.5, 1.0))
            v = body.velocity_at_world_point(fb.position)
            # The impact's energy goes into breaking, not bouncing: the pieces keep little of the
            # rebound and scatter mostly sideways, skittering low over the floor.
            vy = min(v.y, 0.1 * speed) + 0.3 * abs(kick * math.sin(out)) + 0.1 * spread
            fb.velocity = (v.x + kick * math.cos(out), vy)
            fb.angular_velocity = float(rng.uniform(-20, 20))
            shape = pymunk.Poly(fb, local)
            shape.elasticity, shape.friction = 0.3, 0.7
            shape.collision_type = CT_FRAGMENT
            new.append((fb, shape))
        space.remove(body, *sb.shapes)
        for fb, shape in new:
            space.add(fb, shape)
            self.fragments.append((sb, shape))
        biggest = max(new, key=lambda p: p[0].mass)
        sb.body, sb.shapes, sb.drawn_by = biggest[0], [s for _, s in new], self.name
        self.scene.emit("shatter", 0.4 + speed / 10)

    def draw(self, canvas: Canvas) -> None:
        for sb, shape in self.fragments:
            pts = [canvas.to_px(*shape.body.local_to_world(v)) for v in shape.get_vertices()]
            canvas.draw.polygon(pts, fill=sb.color, outline=shade(sb.color, 0.55))


@register
class ElasticMotion(Phenomenon):
    """Bouncy subjects: restitution from the material (set on the shapes), plus squash and stretch
    drawn about the body's centre so the centre still shows the true trajectory."""

    name = "elastic motion"
    OMEGA, ZETA = 2 * math.pi * 7.0, 0.45  # squash oscillation: quick and well damped

    def __init__(self, scene: Scene):
        super().__init__(scene)
        if _leads_staging(scene, self.name):
            stage(scene, self_propelled=False)
        self.squash: dict[int, list[float]] = {}
        for sb in scene.subjects:
            if movable(sb) and sb.kind.shape == "circle" and sb.drawn_by is None:
                sb.drawn_by = self.name
                self.squash[id(sb)] = [0.0, 0.0]

    def on_impact(self, sb: SubjectBody, other: SubjectBody | None, impulse: float, speed: float
                  ) -> None:
        if id(sb) in self.squash:
            softness = 2.0 if sb.material.elastic else 0.7
            self.squash[id(sb)][1] += min(0.35, 0.03 * softness * speed) * self.OMEGA

    def step(self, dt: float) -> None:
        for s in self.squash.values():
            s[1] += (-self.OMEGA**2 * s[0] - 2 * self.ZETA * self.OMEGA * s[1]) * dt
            s[0] += s[1] * dt

    def draw(self, canvas: Canvas) -> None:
        for sb in self.scene.subjects:
            if sb.drawn_by != self.name or not sb.visible or sb.body is None:
                continue
            s = max(-0.3, min(0.3, self.squash[id(sb)][0]))
            r = sb.size_m[0] * sb.scale / 2
            px, py = canvas.to_px(*sb.position)
            rx, ry = canvas.length_px(r * (1 + s)), canvas.length_px(r * (1 - s))
            canvas.draw.ellipse((px - rx, py - ry, px + rx, py + ry), fill=sb.color,
                                outline=shade(sb.color, 0.55))
            a = sb.body.angle
            sx, sy = canvas.to_px(sb.position[0] + 0.6 * r * math.cos(a),
                                  sb.position[1] + 0.6 * r * math.sin(a))
            dot = canvas.length_px(r * 0.16)
            canvas.draw.ellipse((sx - dot, sy - dot, sx + dot, sy + dot), fill=shade(sb.color, 0.55))


@register
class Deformation(Phenomenon):
    """Soft subjects as a spring-mass ring around a core: they squash on impact and spring back."""

    name = "deformation"
    N = 16  # particles on the ring
    SOFT_HZ, STIFF_HZ = 8.0, 14.0  # spring frequencies: jelly, other soft things (rubber, flesh)

    def __init__(self, scene: Scene):
        super().__init__(scene)
        if _leads_staging(scene, self.name):
            stage(scene, self_propelled=False)
        candidates = [sb for sb in scene.subjects if movable(sb) and not sb.kind.animate
                      and sb.body is not None and sb.body.body_type == pymunk.Body.DYNAMIC]
        soft = [sb for sb in candidates if sb.material.elastic or sb.kind.shape == "blob"]
        self.rings: list[tuple[SubjectBody, list[pymunk.Body]]] = []
        _, dt = substeps(scene)
        if 2 * math.pi * self.STIFF_HZ * dt > 0.6:
            return  # time-lapse steps are too long for stiff springs, and a wobble would not show
        for group, sb in enumerate(soft or candidates[:1], start=1):
            self._soften(sb, group)

    def _soften(self, sb: SubjectBody, group: int) -> None:
        body, space = sb.body, self.scene.space
        assert body is not None
        w, h = sb.size_m
        rp = 0.12 * min(w, h)
        mp = body.mass / (self.N + 1)
        hz = self.SOFT_HZ if sb.material.name == "jelly" else self.STIFF_HZ
        k = mp * (2 * math.pi * hz) ** 2
        damping = 2 * 0.25 * math.sqrt(k * mp)
        filt = pymunk.ShapeFilter(group=1000 + group)  # a ring's own particles do not collide

        def particle(pos: tuple[float, float], radius: float) -> tuple[pymunk.Body, pymunk.Circle]:
            b = pymunk.Body(mp, pymunk.moment_for_circle(mp, 0, radius))
            b.position = pos
            b.velocity = body.velocity_at_world_point(pos)
            c = pymunk.Circle(b, radius)
            c.elasticity, c.friction = sb.material.restitution, sb.material.friction
            c.collision_type, c.filter = CT_SUBJECT, filt
            c.subject = sb  # type: ignore[attr-defined]
            return b, c

        core, core_shape = particle(tuple(body.position), 0.3 * min(w, h))
        ring = [particle(tuple(body.local_to_world(((w / 2 - rp) * math.cos(t), (h / 2 - rp) * math.sin(t)))), rp)
                for t in np.linspace(0, 2 * math.pi, self.N, endpoint=False)]
        springs = []
        n = self.N
        for i, (b, _) in enumerate(ring):
            # Spokes, rim, bending, and chords across: without the chords a hard landing can fold
            # the ring onto itself (the mirror image has the same spoke and rim lengths).
            links = [core, ring[(i + 1) % n][0], ring[(i + 2) % n][0], ring[(i + n // 4) % n][0]]
            if i < n // 2:
                links.append(ring[i + n // 2][0])
            for other in links:
                rest = (b.position - other.position).length
                springs.append(pymunk.DampedSpring(b, other, (0, 0), (0, 0), rest, k, damping))
        space.remove(body, *sb.shapes)
        space.add(core, core_shape, *[x for pair in ring for x in pair], *springs)
        sb.body, sb.shapes, sb.drawn_by = core, [core_shape] + [c for _, c in ring], self.name
        self.rings.append((sb, [b for b, _ in ring]))

    def draw(self, canvas: Canvas) -> None:
        for sb, ring in self.rings:
            if not sb.visible or sb.drawn_by != self.name:
                continue
            cx, cy = sb.position
            rp = 0.12 * min(sb.size_m)
            pts = []
            for b in ring:
                dx, dy = b.position.x - cx, b.position.y - cy
                n = math.hypot(dx, dy) or 1.0
                pts.append(canvas.to_px(b.position.x + dx / n * rp, b.position.y + dy / n * rp))
            canvas.draw.polygon(pts, fill=sb.color, outline=shade(sb.color, 0.55))
