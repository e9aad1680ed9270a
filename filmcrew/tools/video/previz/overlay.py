"""The previz overlay: subject labels, shot number, timecode, caption, phenomenon tags, time-scale mark.

Drawn on top of the frame in screen space, and skipped entirely when the overlay is off. Text boxes are
rendered once and pasted (FreeType rendering would otherwise be most of a frame's cost); labels are
placed so that no two overlap and all stay in the frame.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from filmcrew.tools.video.previz.scene import Canvas


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


@lru_cache(maxsize=512)
def _sprite(text: str, size: int, anchor: str) -> tuple[Image.Image, int, int]:
    """A caption box (text on translucent black) rendered once: captions, tags and labels repeat
    every frame, and FreeType rendering is most of the cost of a previz frame."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text, anchor=anchor)
    pad = max(1, size // 5)
    im = Image.new("RGBA", (int(right - left) + 2 * pad, int(bottom - top) + 2 * pad), (0, 0, 0, 140))
    ImageDraw.Draw(im).text((pad - left, pad - top), text, font=font, fill=(245, 245, 240, 255),
                            anchor=anchor)
    return im, int(left) - pad, int(top) - pad


def _text_box(canvas: Canvas, xy: tuple[float, float], text: str, size: int,
              anchor: str = "la") -> tuple[float, float, float, float]:
    """Draw text on a dark box at xy (PIL anchor); returns the box."""
    im, dx, dy = _sprite(text, size, anchor)
    x, y = round(xy[0]) + dx, round(xy[1]) + dy
    canvas.image.paste(im, (x, y), im)
    return (x, y, x + im.width, y + im.height)


def labels(canvas: Canvas, items: list[tuple[str, float, float]]) -> list[tuple[int, int, int, int]]:
    """Each subject's name just above it: items are (text, x, top) in world metres.

    Placed greedily from the lowest on screen up: a label that would overlap one already placed moves
    up above it (below it when there is no room above), and every label stays inside the frame,
    clear of the overlay's top and bottom lines. Returns the pixel boxes drawn.
    """
    size = max(8, canvas.height // 30)
    W, H = canvas.width, canvas.height
    band = int(1.9 * max(8, H // 24))  # the overlay's shot number, tags and caption live here
    placed: list[tuple[int, int, int, int]] = []
    spots = []
    for text, x, top in items:
        px, py = canvas.to_px(x, top)
        if -50 < px < W + 50 and -20 < py < H + 20:
            spots.append((py, px, text))
    for py, px, text in sorted(spots, key=lambda s: -s[0]):
        im, dx, dy = _sprite(text, size, "md")
        w, h = im.size
        x0 = int(min(max(round(px) + dx, 1), W - w - 1))
        y0 = int(min(max(round(py - 3) + dy, band), H - band - h))
        for _ in range(len(placed) + 1):
            hits = [b for b in placed if x0 < b[2] and b[0] < x0 + w and y0 < b[3] and b[1] < y0 + h]
            if not hits:
                break
            up = min(b[1] for b in hits) - h - 1
            y0 = up if up >= band else max(b[3] for b in hits) + 1
        y0 = int(min(max(y0, 0), H - h))
        canvas.image.paste(im, (x0, y0), im)
        placed.append((x0, y0, x0 + w, y0 + h))
    return placed


def timecode(t: float, fps: float) -> str:
    """Screen time as MM:SS:FF."""
    frames = round(t * fps)
    f = round(fps)
    return f"{frames // (60 * f):02d}:{frames // f % 60:02d}:{frames % f:02d}"


def time_scale_mark(time_scale: float) -> str:
    """'×0.25' for slow motion, '×60' for time-lapse."""
    return f"×{time_scale:g}"


@lru_cache(maxsize=64)
def _fit(caption: str, size: int, limit: int) -> str:
    """The caption's first line, cut with an ellipsis to fit `limit` pixels."""
    font = _font(size)
    text = caption.strip().splitlines()[0] if caption.strip() else ""
    if text and font.getlength(text) > limit:
        while text and font.getlength(text + "…") > limit:
            text = text[:-1]
        text = text.rstrip() + "…"
    return text


def overlay(canvas: Canvas, shot_number: int, caption: str, time_s: float, fps: float,
            tags: list[str], time_scale: float) -> None:
    """Shot number and timecode top left, phenomena tags top right, caption bottom left, and the
    time-scale mark in the bottom-right corner (only when playback is not real time)."""
    W, H = canvas.width, canvas.height
    size = max(8, H // 24)
    m = max(3, H // 60)
    _text_box(canvas, (m + 2, m + 2), f"SHOT {shot_number}  {timecode(time_s, fps)}", size)
    x = W - m - 2
    for tag in reversed(tags):
        box = _text_box(canvas, (x, m + 2), tag, max(7, size - 3), anchor="ra")
        x = box[0] - m
        if x < W * 0.45:
            break
    reserve = 0.0
    if time_scale != 1:
        # The default font has no "×" glyph, so the cross is drawn as two strokes.
        font = _font(size + 2)
        nb = canvas.draw.textbbox((W - m - 2, H - m - 2), time_scale_mark(time_scale)[1:],
                                  font=font, anchor="rd")
        cross = (nb[3] - nb[1]) * 0.3
        cx, cy = nb[0] - cross - 2, (nb[1] + nb[3]) / 2
        pad = max(1, (size + 2) // 5)
        box = (cx - cross - pad, nb[1] - pad, nb[2] + pad, nb[3] + pad)
        canvas.draw.rectangle(box, fill=(0, 0, 0, 140))
        canvas.draw.text((W - m - 2, H - m - 2), time_scale_mark(time_scale)[1:], font=font,
                         fill=(245, 245, 240), anchor="rd")
        for sx in (-1, 1):
            canvas.draw.line((cx - cross, cy - sx * cross, cx + cross, cy + sx * cross),
                             fill=(245, 245, 240), width=max(1, size // 9))
        reserve = W - box[0] + m
    text = _fit(caption, size, int(W - 2 * m - reserve - W * 0.18))  # clear of the corner
    if text:
        _text_box(canvas, (m + 2, H - m - 2), text, size, anchor="ld")
