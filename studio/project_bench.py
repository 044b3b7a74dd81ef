"""Project figures for ``studio bench core`` (also ``studio bench project``).

- Open a project holding a 10-minute MIDI, a 24 MP picture with 10 history steps and 5 minutes of
  takes: process start to an interactive window, against opening the same files one by one into a
  fresh window (what an artist did before projects).
- Autosave of a changed 24 MP picture: the longest stall of the window's thread while it runs,
  against the longest stall with nothing running (target: under 16 ms, one frame at 60 Hz).

The test project is made once and kept in the cache folder (``bench-project/``).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from studio.core import paths
from studio.core.jobs import JobContext

__all__ = ["bench_project", "make_bench_project"]

FIXTURE_VERSION = 1


def _midi(path: Path, minutes: float = 10.0, bpm: int = 120) -> None:
    import mido

    from studio.core.atomic import atomic_path

    tpb = 480
    beats = int(minutes * bpm)
    song = mido.MidiFile(ticks_per_beat=tpb)
    scale = [0, 2, 4, 5, 7, 9, 11]
    parts = [  # channel, program, notes per beat, pitches
        (0, 0, 2, lambda i: 72 + scale[(i * 3) % 7]),
        (1, 33, 1, lambda i: 36 + scale[(i // 4) % 7]),
        (2, 48, 1, lambda i: 60 + scale[(i // 4 + 2) % 7]),
        (9, 0, 4, lambda i: (36, 42, 38, 42)[i % 4]),
    ]
    for channel, program, per_beat, pitch in parts:
        track = mido.MidiTrack()
        if channel == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        track.append(mido.Message("program_change", channel=channel, program=program))
        step = tpb // per_beat
        for i in range(beats * per_beat):
            track.append(mido.Message("note_on", channel=channel, note=pitch(i), velocity=80,
                                      time=0))  # fmt: skip
            track.append(mido.Message("note_off", channel=channel, note=pitch(i), velocity=0,
                                      time=step))  # fmt: skip
        song.tracks.append(track)
    with atomic_path(path) as temp:
        song.save(str(temp))


def make_bench_project(folder: Path, ctx: JobContext | None = None) -> dict[str, Any]:
    """Make (once) the files and the project of the benchmark in ``folder``."""
    import numpy as np
    import soundfile as sf
    from PIL import Image

    from studio.image.document import ImageDocument
    from studio.music.document import MusicDocument
    from studio.project import Project
    from studio.voice.document import Take, VoiceDocument

    ctx = ctx or JobContext()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "fixture.json"
    files = {
        "midi": folder / "ten-minutes.mid",
        "picture": folder / "24mp.png",
        "takes": [folder / f"take-{i}.wav" for i in range(1, 6)],
        "project": folder / "bench.studio",
    }
    if stamp.exists() and json.loads(stamp.read_text()).get("version") == FIXTURE_VERSION:
        return files
    ctx.progress(0.0, "making a 10-minute MIDI file")
    _midi(files["midi"])
    ctx.progress(0.05, "making a 24 MP picture")
    h, w = 4000, 6000
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w * 255, y / h * 255, (np.sin(x / 37) * np.cos(y / 53) + 1) * 127], -1)
    pixels = rgb.astype(np.uint8)
    Image.fromarray(pixels).save(files["picture"], compress_level=1)
    ctx.progress(0.1, "making 5 minutes of takes")
    rate = 22050
    t = np.arange(60 * rate, dtype=np.float32) / rate
    for index, take in enumerate(files["takes"], start=1):
        sf.write(take, 0.2 * np.sin(2 * np.pi * (110 * index) * t), rate)
    ctx.progress(0.15, "making the project (10 history steps)")
    project = Project()
    project.documents["music"] = MusicDocument.from_file(files["midi"])
    image = ImageDocument.from_file(files["picture"])
    for step in range(10):
        ctx.check_cancelled()
        image.apply(np.roll(image.pixels, 40, axis=1), f"Shift {step + 1}", result=True)
    project.documents["image"] = image
    voice = VoiceDocument()
    for index, take in enumerate(files["takes"], start=1):
        samples, sr = sf.read(take, dtype="float32")
        voice.add_take(Take(index, "speech", samples, sr))
    project.documents["voice"] = voice
    project.save(files["project"])
    project.close()
    stamp.write_text(json.dumps({"version": FIXTURE_VERSION}))
    return files


def bench_project(ctx: JobContext) -> dict[str, Any]:
    """open a big project against opening its files one by one; the GUI stall while autosaving"""
    from studio.bench import _run

    files = make_bench_project(paths.cache_dir() / "bench-project", ctx)
    py = sys.executable
    probe = [py, "-m", "studio.ui._project_probe"]
    project = str(files["project"])
    plain = [str(files["midi"]), str(files["picture"]), *map(str, files["takes"])]
    opens, singles = [], []
    for i in range(3):
        ctx.progress(0.4 + 0.15 * i, "timing the project's open and the files' open")
        opens.append(json.loads(_run(ctx, [*probe, "open", project], 600)[1].splitlines()[-1]))
        singles.append(json.loads(_run(ctx, [*probe, "files", *plain], 600)[1].splitlines()[-1]))
    open_s = statistics.median(o["open_project_s"] for o in opens)
    files_s = statistics.median(o["open_files_s"] for o in singles)
    ctx.progress(0.9, "measuring the window's longest stall during autosave")
    stall = json.loads(_run(ctx, [*probe, "autosave", project], 600)[1].splitlines()[-1])
    size = sum(p.stat().st_size for p in Path(project).rglob("*") if p.is_file())
    return {
        "project_mb": round(size / 2**20, 1),
        "open_project_s": round(open_s, 3),
        "open_files_one_by_one_s": round(files_s, 3),
        "open_project_vs_files": round(open_s / files_s, 2),
        **stall,
    }
