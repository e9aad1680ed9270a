"""Media I/O with PyAV: H.264 encode, decode, H.264 + AAC mux, probes and loudness.

Everything a tool needs to turn frames and samples into files and back, without an ffmpeg binary.
Frames are (H, W, 3) uint8 RGB; audio is float32 (N,) mono or (N, C) with samples in [-1, 1].
Video writers take iterators so a long film streams with constant memory. PyAV is imported inside
the functions so that importing this module stays light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

# BT.709 for the YUV matrix: players assume it for untagged HD video, so we convert with it and tag it.
_COLORSPACE = "ITU709"


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, measured: frames are counted by decoding, audio duration is decoded."""

    path: str
    video_frames: int
    fps: float
    width: int
    height: int
    duration_s: float  # picture duration: video_frames / fps (0 without video)
    audio_sample_rate: int | None
    audio_channels: int | None
    audio_duration_s: float | None  # decoded samples / sample rate, priming already dropped
    codecs: dict[str, str]  # {"video": "h264", "audio": "aac"} for the streams present


# --------------------------------------------------------------------------------------------------
# Video


def _check_frame(frame: np.ndarray, index: int, shape: tuple[int, ...] | None) -> None:
    if (
        not isinstance(frame, np.ndarray)
        or frame.dtype != np.uint8
        or frame.ndim != 3
        or frame.shape[2] != 3
    ):
        got = getattr(frame, "shape", type(frame).__name__), getattr(frame, "dtype", "")
        raise ValueError(f"frame {index}: expected (H, W, 3) uint8 RGB, got {got}")
    if shape is not None and frame.shape != shape:
        raise ValueError(f"frame {index}: shape {frame.shape} differs from the first frame {shape}")
    if shape is None:
        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            raise ValueError(f"H.264 yuv420p needs even width and height; got {w}x{h}")


def _check_fps(fps: int) -> Fraction:
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return rate


def _add_video_stream(container, rate: Fraction, width: int, height: int, crf: int, preset: str):
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = 1 / rate
    stream.options = {"crf": str(crf), "preset": preset}
    # Tag the matrix we convert with so players decode the colours we meant.
    cc = stream.codec_context
    cc.colorspace = 1  # AVCOL_SPC_BT709
    cc.color_primaries = 1  # AVCOL_PRI_BT709
    cc.color_trc = 1  # AVCOL_TRC_BT709
    cc.color_range = 1  # MPEG (limited) range
    return stream


def _video_frame(av, array: np.ndarray, pts: int):
    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
    frame = frame.reformat(format="yuv420p", dst_colorspace=_COLORSPACE)
    frame.pts = pts
    return frame


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int,
    *,
    crf: int = 18,
    preset: str = "veryfast",
) -> int:
    """Encode RGB frames to an H.264 yuv420p MP4 and return the number of frames written.

    Frames are consumed one at a time (constant memory); all must share one even-sized shape.
    """
    return _encode(path, frames, fps, crf=crf, preset=preset, audio=None, sample_rate=0)


def _encode(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int,
    *,
    crf: int,
    preset: str,
    audio: np.ndarray | None,
    sample_rate: int,
    audio_bitrate: int = 192_000,
) -> int:
    """Shared writer: video, and audio cut to the picture length, interleaved frame by frame."""
    import av

    rate = _check_fps(fps)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("no frames to write")
    _check_frame(first, 0, None)
    shape = first.shape
    height, width = shape[:2]

    n = 0
    try:
        with av.open(str(path), mode="w", format="mp4") as container:
            vstream = _add_video_stream(container, rate, width, height, crf, preset)
            astream, planar = None, None
            if audio is not None:
                channels = audio.shape[1]
                layout = "mono" if channels == 1 else "stereo"
                astream = container.add_stream("aac", rate=sample_rate, layout=layout)
                astream.bit_rate = audio_bitrate
                planar = np.ascontiguousarray(audio.T, dtype=np.float32)  # (C, N), fltp layout
            sent = 0  # audio samples handed to the encoder so far

            def put_audio(until: int) -> None:
                nonlocal sent
                if until <= sent:
                    return
                chunk = np.zeros((planar.shape[0], until - sent), np.float32)
                have = planar[:, sent:until]
                chunk[:, : have.shape[1]] = have  # past the end of the track: silence (padding)
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                aframe.sample_rate = sample_rate
                aframe.pts = sent
                aframe.time_base = Fraction(1, sample_rate)
                container.mux(astream.encode(aframe))
                sent = until

            frame = first
            while frame is not None:
                if n:
                    _check_frame(frame, n, shape)
                container.mux(vstream.encode(_video_frame(av, frame, n)))
                n += 1
                if astream is not None:
                    # Audio up to the end of this picture frame: interleaved, and exactly n/fps at the end.
                    put_audio(round(n * sample_rate / rate))
                frame = next(iterator, None)
            container.mux(vstream.encode(None))
            if astream is not None:
                container.mux(astream.encode(None))
    except BaseException:
        # A half-written MP4 has no index and would only mislead a later probe.
        Path(path).unlink(missing_ok=True)
        raise
    return n


def iter_frames(
    path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield the decoded frames of a video as (H, W, 3) uint8 RGB, in presentation order.

    size is (width, height); frames are rescaled (swscale, area filter) when it differs.
    """
    import av

    if size is not None and (size[0] <= 0 or size[1] <= 0):
        raise ValueError(f"size must be positive (width, height), got {size}")
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for count, frame in enumerate(container.decode(stream)):
            if max_frames is not None and count >= max_frames:
                return
            kwargs = {}
            if size is not None and (frame.width, frame.height) != tuple(size):
                kwargs = {"width": size[0], "height": size[1], "interpolation": "AREA"}
            yield frame.to_ndarray(format="rgb24", **kwargs)


def read_video(
    path: str | Path,
    *,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode a whole video (or its first max_frames) into a (T, H, W, 3) uint8 array."""
    frames = list(iter_frames(path, size=size, max_frames=max_frames))
    if not frames:
        w, h = size if size is not None else (0, 0)
        return np.zeros((0, h, w, 3), np.uint8)
    return np.stack(frames)


# --------------------------------------------------------------------------------------------------
# Audio


def _as_2d(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] < 1 or x.shape[1] > 8:
        raise ValueError(
            f"audio must be (N,) or (N, C) with 1 <= C <= 8, got shape {np.shape(samples)}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"audio must be floating point in [-1, 1], got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or inf")
    return x.astype(np.float32, copy=False)


def write_audio(
    path: str | Path, samples: np.ndarray, sample_rate: int, *, subtype: str = "FLOAT"
) -> None:
    """Write a WAV file (32-bit float by default, or subtype="PCM_24") with soundfile."""
    import soundfile as sf

    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    if subtype not in ("FLOAT", "PCM_24", "PCM_16"):
        raise ValueError(f"subtype must be FLOAT, PCM_24 or PCM_16, got {subtype!r}")
    x = _as_2d(samples)
    sf.write(
        str(path), x if x.shape[1] > 1 else x[:, 0], sample_rate, subtype=subtype, format="WAV"
    )
    _clear_peak_time(path)


def _clear_peak_time(path: str | Path) -> None:
    """libsndfile stamps a float WAV's PEAK chunk with the time of writing; zero the stamp, so the
    same samples always give the same bytes (and the same artifact hash)."""
    with open(path, "r+b") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while True:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8 or chunk[:4] == b"data":
                return
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"PEAK" and size >= 8:  # version (4 bytes), then the time stamp
                f.seek(pos + 12)
                f.write(b"\0\0\0\0")
                return
            pos += 8 + size + (size & 1)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read audio as float32 ((N,) mono or (N, C)) and its sample rate.

    WAV/FLAC/OGG go through soundfile; anything else (MP4/AAC) is decoded with PyAV.
    """
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=False)
        return data, int(sr)
    except sf.LibsndfileError:
        pass
    samples, sr = _decode_audio(path)
    if samples is None:
        raise ValueError(f"{path}: no audio stream")
    return (samples[:, 0] if samples.shape[1] == 1 else samples), sr


def _decode_audio(path: str | Path) -> tuple[np.ndarray | None, int]:
    """All audio samples of the first audio stream as (N, C) float32, trimmed to the presentation.

    The decoder drops the AAC priming (MP4 edit list); the padding of the last AAC block is dropped
    here, using the end the packets declare (pts + duration of the last packet).
    """
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None, 0
        stream = container.streams.audio[0]
        sr = stream.codec_context.sample_rate
        channels = stream.codec_context.layout.nb_channels
        # Resample to packed float so every codec comes out the same way.
        resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=sr)
        parts: list[np.ndarray] = []
        end, first = None, None
        for packet in container.demux(stream):
            if packet.pts is not None and packet.duration:
                end = max(end or 0, packet.pts + packet.duration)
            for frame in packet.decode():
                if first is None and frame.pts is not None:
                    first = frame.pts
                parts.extend(
                    o.to_ndarray().reshape(-1, channels) for o in resampler.resample(frame)
                )
        parts.extend(o.to_ndarray().reshape(-1, channels) for o in resampler.resample(None))
        data = np.concatenate(parts) if parts else np.zeros((0, channels), np.float32)
        if end is not None and first is not None and stream.time_base is not None:
            keep = round(float((end - first) * stream.time_base) * sr)
            if 0 < keep < data.shape[0]:
                data = data[:keep]
        return data, sr


def mux(
    out_path: str | Path,
    frames: Iterable[np.ndarray],
    fps: int,
    audio: np.ndarray,
    sample_rate: int,
    *,
    crf: int = 18,
    preset: str = "veryfast",
    audio_bitrate: int = 192_000,
) -> MediaInfo:
    """Write picture and sound into one H.264 + AAC MP4 in a single pass and return its probe.

    The video holds exactly the frames given; the audio is trimmed or padded with silence to exactly
    frames/fps seconds, so picture and sound end together (the MP4 edit list hides the AAC priming
    and the last packet's duration the padding of the final block).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
    x = _as_2d(audio)
    if x.shape[1] > 2:
        raise ValueError(f"mux takes mono or stereo audio, got {x.shape[1]} channels")
    _encode(
        out_path,
        frames,
        fps,
        crf=crf,
        preset=preset,
        audio=x,
        sample_rate=sample_rate,
        audio_bitrate=audio_bitrate,
    )
    return probe(out_path)


# --------------------------------------------------------------------------------------------------
# Probes and measurements


def probe(path: str | Path) -> MediaInfo:
    """Measure a media file: frames counted by decoding, audio duration from decoded samples."""
    import av

    with av.open(str(path)) as container:
        codecs: dict[str, str] = {}
        frames, fps, width, height = 0, 0.0, 0, 0
        if container.streams.video:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            codecs["video"] = stream.codec_context.name
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            width, height = stream.codec_context.width, stream.codec_context.height
            frames = sum(1 for _ in container.decode(stream))
        if container.streams.audio:
            codecs["audio"] = container.streams.audio[0].codec_context.name

    audio_sr = audio_ch = audio_dur = None
    if "audio" in codecs:
        samples, sr = _decode_audio(path)
        assert samples is not None
        audio_sr, audio_ch = sr, samples.shape[1]
        audio_dur = samples.shape[0] / sr if sr else 0.0
    return MediaInfo(
        path=str(path),
        video_frames=frames,
        fps=fps,
        width=width,
        height=height,
        duration_s=frames / fps if fps else 0.0,
        audio_sample_rate=audio_sr,
        audio_channels=audio_ch,
        audio_duration_s=audio_dur,
        codecs=codecs,
    )


def loudness_lufs(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, pyloudnorm); -inf for silence.

    Needs at least one 400 ms gating block of audio.
    """
    import pyloudnorm

    x = _as_2d(samples)
    if x.shape[0] < int(0.4 * sample_rate):
        raise ValueError(f"loudness needs >= 0.4 s of audio, got {x.shape[0] / sample_rate:.3f} s")
    return float(
        pyloudnorm.Meter(sample_rate).integrated_loudness(x if x.shape[1] > 1 else x[:, 0])
    )


def true_peak_db(samples: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP: the sample peak of the 4x oversampled signal (BS.1770 annex 2); -inf if silent.

    Oversampling catches the inter-sample peaks a DAC reconstructs above the stored samples.
    """
    from scipy.signal import resample_poly

    x = _as_2d(samples).astype(np.float64)
    if x.shape[0] == 0:
        return -math.inf
    up = resample_poly(x, 4, 1, axis=0)
    peak = float(np.max(np.abs(up)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def resample(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """`samples` (N,) or (N, C) at `target_rate` (soxr, high quality); unchanged if the rates match."""
    if sample_rate == target_rate:
        return np.asarray(samples, np.float32)
    import soxr

    return soxr.resample(np.asarray(samples, np.float32), sample_rate, target_rate, "HQ")
