"""Write RGB frames as an H.264 MP4 with an optional AAC test tone (the demo's sample clip, test inputs)."""

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TONE_HZ = 440
AUDIO_CHUNK = 1024


def write_h264_clip(path: Path, frames: Sequence[np.ndarray], fps: int, audio_rate: int | None = None,
                    crf: int | None = None, container_format: str | None = None) -> Path:
    """Encode ``frames`` (HxWx3 RGB uint8, even sizes) at ``fps`` into ``path``.

    With ``audio_rate`` a mono AAC 440 Hz tone as long as the video is added, so that audio pass-through
    can be checked. ``crf`` sets x264's quality (None: its default). ``container_format`` (e.g. "mp4") is
    needed when the file name's extension does not tell it. Not atomic: wrap in ``atomic_write``.
    """
    options = {} if crf is None else {"crf": str(crf)}
    with av.open(str(path), "w", format=container_format) as container:
        video = container.add_stream("libx264", rate=fps, options=options)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=audio_rate, layout="mono") if audio_rate else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            _mux_tone(container, sound, audio_rate, int(len(frames) / fps * audio_rate))
    return path


def _mux_tone(container, stream, rate: int, samples: int) -> None:
    for start in range(0, samples, AUDIO_CHUNK):
        count = min(AUDIO_CHUNK, samples - start)
        tone = 0.2 * np.sin(2 * np.pi * TONE_HZ * np.arange(start, start + count) / rate)
        chunk = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(chunk))
    container.mux(stream.encode(None))
