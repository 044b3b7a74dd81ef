"""``studio bench arrange``: the Arrange figures, as ratios in one run.

- Mixdown of a 3-minute, 8-lane arrangement with effects on every lane and the master, mastered to
  -14 LUFS: seconds, and how many times faster than real time. "cold" includes rendering the MIDI
  with the SoundFont and resampling the 22.05/48 kHz takes; "warm" is what a mix costs after a
  fader or effect change (the rendered sources are cached).
- Music-video export at 720p (an excerpt, the demo clip and a picture on the video lane):
  frames per second composited and encoded, against encoding the same frames made beforehand.
- Timeline redraw while playing 64 lanes: the longest GUI stall (a child process with Qt,
  ``studio.ui.panels.arrange._probe``; target under 16 ms).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio.arrange.document import ArrangeDocument, Source, new_id
from studio.core.jobs import JobContext

__all__ = ["bench_arrange", "make_arrangement"]


def make_arrangement(minutes: float = 3.0, lanes: int = 8, bpm: float = 120.0,
                     effects: bool = True) -> ArrangeDocument:  # fmt: skip
    """An arrangement of ``lanes`` lanes filling ``minutes``: MIDI melody and bass (looped 4-bar
    clips), and audio loops at 22.05, 44.1 and 48 kHz, each lane with EQ, compression and some
    delay or reverb."""
    from studio.core.media import MidiClip, Note
    from studio.music.document import Clip

    doc = ArrangeDocument(bpm=bpm)
    beats = minutes * 60 * bpm / 60
    rng = np.random.default_rng(7)
    scale = [0, 2, 4, 5, 7, 9, 11]
    for i in range(lanes):
        if i < 2:  # MIDI: a 4-bar melody or bass, looped
            notes = [Note(b * (0.5 if i == 0 else 1.0), (72 if i == 0 else 36)
                          + scale[int(rng.integers(7))], 0.45 if i == 0 else 0.9, 90, i)
                     for b in range(32 if i == 0 else 16)]  # fmt: skip
            clip = Clip.from_midi(MidiClip(notes=notes, bpm=bpm, programs={i: 0 if i == 0
                                                                             else 33}))  # fmt: skip
            source = Source(new_id(), "midi", f"MIDI {i + 1}", midi=clip)
        else:  # audio loops of 4 bars at mixed sample rates
            rate = (22050, 44100, 48000)[i % 3]
            seconds = 16 * 60 / bpm
            t = np.arange(int(seconds * rate)) / rate
            tone = 0.2 * np.sin(2 * np.pi * (110 * (i - 1)) * t) * (0.5 + 0.5 * np.sin(t * 3))
            hits = (np.sin(2 * np.pi * t * bpm / 60) > 0.995) * rng.standard_normal(len(t)) * 0.3
            samples = (tone + hits).astype(np.float32)
            source = Source(new_id(), "audio", f"Audio {i + 1}", samples=samples,
                            sample_rate=rate, seconds=seconds)  # fmt: skip
        clip = doc.add_source(source, at=0.0, length=beats)
        doc.set_clip(clip.id, loop=True, fade_in=1.0, fade_out=4.0)
        if effects:
            doc.set_lane_effects(
                clip.lane,
                low_db=2.0,
                high_db=-1.0,
                compress=0.4,
                reverb=0.3 if i % 2 else 0.0,
                delay=0.2 if i % 2 == 0 else 0.0,
            )
            doc.set_lane(clip.lane, pan=(-0.5 + i / max(1, lanes - 1)))
    if effects:
        doc.set_master(compress=0.2, low_db=1.0)
    return doc


def _mix_figures(ctx: JobContext) -> dict[str, Any]:
    from studio.arrange.mix import clear_cache, render_mix

    doc = make_arrangement()
    seconds = doc.seconds
    clear_cache()
    ctx.progress(0.05, "mixing 3 minutes, 8 lanes, cold")
    started = time.perf_counter()
    cold = render_mix(doc)
    cold_s = time.perf_counter() - started
    doc.set_lane(doc.lanes[3].id, gain_db=-3.0)  # a fader move: the sources stay rendered
    ctx.progress(0.3, "mixing again after a fader move")
    started, cpu = time.perf_counter(), time.process_time()
    warm = render_mix(doc)
    warm_s = time.perf_counter() - started
    warm_cpu = time.process_time() - cpu  # this process's CPU time: what other work can't skew
    return {
        "mix_seconds_of_audio": round(seconds, 1),
        "mix_cold_s": round(cold_s, 2),
        "mix_cold_x_realtime": round(seconds / cold_s, 1),
        "mix_warm_s": round(warm_s, 2),
        "mix_warm_x_realtime": round(seconds / warm_s, 1),
        "mix_warm_cpu_s": round(warm_cpu, 2),
        "mix_warm_x_realtime_per_cpu_second": round(seconds / warm_cpu, 1),
        "mix_loudness_lufs": round(warm.loudness, 2),
        "mix_true_peak_dbtp": round(warm.true_peak, 2),
        "mix_cold_loudness_lufs": round(cold.loudness, 2),
    }


def _video_figures(ctx: JobContext, seconds: float = 4.0) -> dict[str, Any]:
    from studio.arrange.export import export_video, video_frames
    from studio.arrange.mix import MixResult, render_mix
    from studio.video.export import ffmpeg_path, write_demo

    if ffmpeg_path() is None:
        return {"video": "skipped: no ffmpeg program"}
    with tempfile.TemporaryDirectory(prefix="studio-bench-arrange-") as scratch:
        folder = Path(scratch)
        demo = write_demo(folder / "demo.mp4", seconds=seconds, width=640, height=360, fps=30).path
        picture = folder / "picture.png"
        from PIL import Image

        Image.fromarray((np.random.default_rng(1).random((360, 640, 3)) * 255).astype(
            np.uint8)).save(picture)  # fmt: skip
        doc = make_arrangement(minutes=seconds / 60, lanes=2, effects=False)
        clip = doc.add_file(demo, at=0)
        doc.set_clip(clip.id, fade_in=1.0)
        doc.add_file(picture, at=doc.beat_at(seconds / 2))
        mix = render_mix(doc)
        excerpt = MixResult(mix.audio[: int(seconds * mix.sample_rate)], mix.sample_rate,
                            provenance=mix.provenance)  # fmt: skip
        ctx.progress(0.6, "exporting 720p video, composited")
        started = time.perf_counter()
        export_video(doc, excerpt, folder / "composited.mp4", size=(1280, 720), fps=30)
        composited_s = time.perf_counter() - started
        frames = video_frames(doc, seconds, (1280, 720), 30)
        ctx.progress(0.75, "encoding the same frames without compositing")
        started = time.perf_counter()
        export_video(doc, excerpt, folder / "plain.mp4", size=(1280, 720), fps=30,
                     frames_given=frames)  # fmt: skip
        plain_s = time.perf_counter() - started
    count = len(frames)
    return {
        "video_excerpt_s": seconds,
        "video_720p_fps_composited": round(count / composited_s, 1),
        "video_720p_fps_encode_only": round(count / plain_s, 1),
        "video_composited_vs_encode_only": round(plain_s / composited_s, 2),
    }


def _redraw_figures(ctx: JobContext) -> dict[str, Any]:
    from studio.bench import _run

    ctx.progress(0.85, "timeline redraw while playing 64 lanes (child process)")
    _elapsed, out = _run(ctx, [sys.executable, "-m", "studio.ui.panels.arrange._probe"], 300)
    return json.loads(out.strip().splitlines()[-1])


def bench_arrange(ctx: JobContext) -> dict[str, Any]:
    """mixdown of 3 min x 8 lanes with effects (x real time); 720p video export; 64-lane redraw"""
    import os

    figures: dict[str, Any] = {}
    if hasattr(os, "getloadavg"):  # other work on the machine slows every figure down
        figures["load_average_at_start"] = round(os.getloadavg()[0], 2)
    figures.update(_mix_figures(ctx))
    figures.update(_video_figures(ctx))
    try:
        figures.update(_redraw_figures(ctx))
    except (RuntimeError, TimeoutError, ValueError) as exc:
        figures["redraw"] = f"not measured: {exc}"
    ctx.progress(1.0, "done")
    return figures
