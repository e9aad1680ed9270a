"""Previz speed against real time: render a 30-second, 3-shot plan at 640x360/24 fps.

Baseline in the same run: the film's duration (real time). Also times writing the frames as H.264,
since that is part of every candidate clip.

    .venv/bin/python benchmarks/previz_realtime.py
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from filmcrew.llm.offline_physics import annotate_shot
from filmcrew.llm.offline_planner import plan_request
from filmcrew.tools.media import write_video
from filmcrew.tools.video.previz import render_previz

REQUESTS = [
    "A glass of water is knocked off a table and shatters on the floor; slow-motion replay.",
    "A steel ball rolls into a wooden crate; a rubber ball bounces down the street.",
    "An ice cube melts on a hot pan; steam rises; time-lapse.",
    "Fireworks explode over a lake at night and reflect in the water.",
]


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| request | film s | render s | encode s | × real time |")
    print("|---|---|---|---|---|")
    for request in REQUESTS:
        plan = plan_request(request, 30.0, min_shots=3)
        annotations = {s.id: annotate_shot(s, plan) for s in plan.shots}
        render = encode = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for n, shot in enumerate(plan.shots, 1):
                t0 = time.perf_counter()
                clip = render_previz(shot, annotations[shot.id], width=640, height=360, fps=24,
                                     seed=n, shot_number=n)
                t1 = time.perf_counter()
                write_video(Path(tmp) / f"{n}.mp4", clip.frames, 24)
                render += t1 - t0
                encode += time.perf_counter() - t1
        total = render + encode
        print(f"| {request[:48]}… | {plan.duration_s:.0f} | {render:.2f} | {encode:.2f} | "
              f"{total / plan.duration_s:.3f} |")


if __name__ == "__main__":
    main()
