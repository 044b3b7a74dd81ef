"""``studio bench music``: the KV cache against full recomputation, chorale speed, the time from
a click to the first note heard (live against the old path), and samples/s of each model family
at equal size.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from studio.core.jobs import Cancelled, JobContext

__all__ = ["bench_music", "audio_output"]

FIRST_NOTE_RUNS = 5  # each path, alternating, medians reported


def audio_output() -> tuple[bool, str, bool]:
    """(available, what plays the sound, paced). With no sound card (and sounddevice not yet
    imported), ALSA's null device stands in, paced to the wall clock like a card: the notes take
    the same path to the output, only no speaker is at the end."""
    null = "pcm.!default { type null }\n"
    if (
        "sounddevice" not in sys.modules
        and not os.environ.get("ALSA_CONFIG_PATH")
        and sys.platform.startswith("linux")
        and not Path("/proc/asound/cards").exists()
    ):
        from studio.core.atomic import write_text

        conf = Path(tempfile.gettempdir()) / "studio-bench-null-alsa.conf"
        write_text(conf, null)
        os.environ["ALSA_CONFIG_PATH"] = str(conf)
    from studio.music.playback import AudioPlayer

    ok, name = AudioPlayer.output_available()
    conf_path = os.environ.get("ALSA_CONFIG_PATH", "")
    try:
        paced = bool(conf_path) and "type null" in Path(conf_path).read_text(encoding="utf-8")
    except OSError:
        paced = False
    what = "ALSA null device (no sound card), paced to the wall clock" if paced else name
    return ok, what, paced


class _Relay:
    """Passes a generation's notes on to the live player and cancels the generation once the
    first note was heard (the rest of the piece does not matter here)."""

    def __init__(self, live, ctx: JobContext) -> None:
        self.live, self.ctx = live, ctx

    def begin(self, bpm, programs) -> None:
        self.live.begin(bpm, programs)

    def note_started(self, note) -> None:
        self.live.note_started(note)
        if self.live.first_heard is not None:
            self.ctx.cancel()

    def bar_written(self, channel, start, end, notes) -> None:
        self.live.bar_written(channel, start, end, notes)
        if self.live.first_heard is not None:
            self.ctx.cancel()


def _first_note(engine, ctx: JobContext) -> dict[str, Any]:
    """Click (the request handed to the engine) to the first sample of the first generated note
    reaching the output: the callback that wrote it plus the output's latency. The model is warm
    on both paths, as it is in the panel."""
    from studio.core.media import MidiClip, Note
    from studio.music.document import CONTROL_FIELDS as DEFAULTS
    from studio.music.engine import MusicRequest, parse_instruments
    from studio.music.playback import LivePlayer

    ok, what, paced = audio_output()
    load_before = round(os.getloadavg()[0], 2)
    if not ok:
        return {"click_to_first_note": f"not measured: {what}"}
    live = LivePlayer(paced=paced)
    if not live.prepare():
        return {"click_to_first_note": f"not measured: {live.problem}"}
    seed_clip = MidiClip([Note(i * 1.0, 60 + (0, 4, 7, 12)[i % 4], 1.0) for i in range(16)])
    default = MusicRequest(
        bars=int(DEFAULTS["bars"]),
        instruments=parse_instruments(str(DEFAULTS["instruments"])),
        style=str(DEFAULTS["style"]),
    )
    requests = {
        "generate": lambda seed: MusicRequest(**{**default.__dict__, "seed": seed}),
        "continue": lambda seed: MusicRequest(mode="continue", clip=seed_clip, bars=4, seed=seed),
    }
    out: dict[str, Any] = {"first_note_audio": what}
    try:
        for mode, make in requests.items():
            start_beat = 16.0 if mode == "continue" else 0.0
            engine.warm(make(0))  # what the panel does when it is shown or a model is picked
            old, new = [], []
            for run in range(FIRST_NOTE_RUNS):
                ctx.check_cancelled()
                new.append(_first_note_live(engine, live, make(100 + run), start_beat))
                old.append(_first_note_old(engine, make(100 + run), start_beat))
            o, n = statistics.median(old), statistics.median(new)
            out[f"click_to_first_note_{mode}_s"] = {
                "old": round(o, 4),
                "live": round(n, 4),
                "ratio": round(o / n, 1),
                "live_runs": [round(x, 4) for x in new],
            }
    finally:
        live.close()
    out["first_note_load_average"] = f"{load_before} before, {os.getloadavg()[0]:.2f} after"
    out.update(_first_note_in_window())
    return out


def _first_note_in_window() -> dict[str, Any]:
    """The same figure from a real click: the window in a child process (Qt stays out of this
    module), the Music panel shown and warmed, Listen on, Generate clicked with QTest."""
    import importlib.util
    import json
    import subprocess

    if importlib.util.find_spec("PySide6") is None:
        return {"click_to_first_note_window": "not measured: PySide6 is not installed"}
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    args = [sys.executable, "-m", "studio.ui.panels.music.latency", "--json", "--runs", "10"]
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"click_to_first_note_window": "not measured: the window took over 5 minutes"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"click_to_first_note_window": f"not measured: {why}"}
    return {"click_to_first_note_window_s": json.loads(lines[-1])}


def _first_note_live(engine, live, req, start_beat: float) -> float:
    live.reset(start_beat)
    ctx = JobContext()
    begun = time.perf_counter()
    req.listener = _Relay(live, ctx)
    try:
        engine.run(req, ctx)
    except Cancelled:
        pass
    deadline = time.perf_counter() + 5.0
    while live.first_heard is None and time.perf_counter() < deadline:
        time.sleep(0.0005)
    heard = live.first_heard
    live.stop()
    return (heard or float("nan")) - begun


def _first_note_old(engine, req, start_beat: float) -> float:
    """The old Listen: the panel waited for a bar to be finished (a later one begun), rendered it
    with a new synth (``render_bar``) and played it through AudioPlayer. The rest before the
    bar's first note is not counted (the live path skips it too)."""
    import numpy as np

    from studio.core.media import AudioClip
    from studio.music.playback import AudioPlayer, slice_clip
    from studio.music.synth import render

    heard: dict[str, float] = {}

    class Timed(AudioPlayer):
        def _callback(self, outdata, frames, time_info, status) -> None:
            heard.setdefault("callback", time.perf_counter())
            super()._callback(outdata, frames, time_info, status)

    def on_partial(clip) -> None:
        if "at" in heard:
            return
        bar = clip.bar_length
        new = [n for n in clip.notes if n.start >= start_beat - 1e-9]
        first = int(start_beat // bar)
        if not new or int(max(n.start for n in new) // bar) <= first:
            return  # the bar is not finished until a later one begins
        part = slice_clip(clip, first * bar, (first + 1) * bar)
        frames = int(round(bar * 60.0 / clip.bpm * 44100))
        audio = render(part, None, 44100, tail=0.0, gain=4.0, normalize=False)
        samples = np.zeros((frames, 2), np.float32)
        take = min(frames, len(audio.samples))
        samples[:take] = np.clip(audio.samples[:take], -1, 1)
        player = Timed()
        player.play(AudioClip(samples, 44100))
        deadline = time.perf_counter() + 5.0
        while "callback" not in heard and time.perf_counter() < deadline:
            time.sleep(0.0005)
        latency = float(player._stream.latency) if player._stream is not None else 0.0
        player.stop()
        heard["at"] = heard.get("callback", float("nan")) + latency
        ctx.cancel()

    ctx = JobContext(None, on_partial)
    begun = time.perf_counter()
    try:
        engine.run(req, ctx)
    except Cancelled:
        pass
    return heard.get("at", float("nan")) - begun


def _engine(device: str):
    """The shipped model an artist gets for the default style (chorale), or (when none is
    installed) an untrained one of the same size."""
    from studio.music import default_model_for, find_model_path
    from studio.music.engine import MusicEngine

    try:
        path = find_model_path(None, "chorale")
        return MusicEngine.load(path, device), f"shipped model ({default_model_for('chorale')})"
    except FileNotFoundError:
        from studio.music.model import ModelConfig, MusicTransformer
        from studio.music.tokens import MusicTokenizer
        from studio.music.training import PRESETS

        small = PRESETS["small"]
        tok = MusicTokenizer()
        model = MusicTransformer(
            ModelConfig(
                tok.vocab_size, 512, small["d_model"], small["n_layers"], small["n_heads"], 0.0
            )
        ).eval()
        return MusicEngine(model.to(device), device, tok), "untrained model of the shipped size"


def bench_music(ctx: JobContext) -> dict[str, Any]:
    """KV-cache sampling vs full recomputation, 8 bars of chorale, time to first sound"""
    import torch

    from studio.core.devices import describe_device, pick_device
    from studio.music.engine import MusicRequest

    device = pick_device("auto")
    engine, which = _engine(device)
    model = engine.model
    out: dict[str, Any] = {"device": describe_device(device), "model": which}
    gen = torch.Generator().manual_seed(0)

    # 1. sampling to 512 tokens of context: with the cache against recomputing everything
    ctx.progress(0.05, "KV cache against full recomputation")
    vocab = int(getattr(model.cfg, "vocab_size", engine.tok.vocab_size))  # an older model's
    prompt = torch.randint(10, vocab, (1, 384), generator=gen)
    new = 512 - 384
    with torch.inference_mode():
        start = time.perf_counter()
        logits, cache = model(prompt.to(device), use_cache=True)
        for _ in range(new):
            ctx.check_cancelled()
            nxt = torch.argmax(logits[:, -1:], dim=-1)
            logits, cache = model(nxt, past=cache, use_cache=True)
        cached = time.perf_counter() - start
        seq = prompt.to(device)
        start = time.perf_counter()
        for _ in range(new):
            ctx.check_cancelled()
            logits, _ = model(seq)
            seq = torch.cat([seq, torch.argmax(logits[:, -1:], dim=-1)], dim=1)
        full = time.perf_counter() - start
    out["kv_cache_tokens_per_s"] = round(new / cached, 1)
    out["recompute_tokens_per_s"] = round(new / full, 1)
    out["kv_cache_speedup"] = round(full / cached, 2)

    # 2. eight bars of four-voice chorale
    ctx.progress(0.4, "eight bars of four-voice chorale")
    req = MusicRequest(key="G major", bars=8, instruments=[52, 52, 52, 52], style="chorale", seed=1)
    engine.run(MusicRequest(bars=1, seed=0))  # warm up
    start = time.perf_counter()
    [clip] = engine.run(req, ctx.child())
    chorale_s = time.perf_counter() - start
    music_s = 8 * clip.bar_length * 60 / clip.bpm
    tokens = sum(1 for _ in clip.notes) * 4 + 8 * 4  # roughly four tokens a note plus bars
    out["chorale_8_bars_s"] = round(chorale_s, 3)
    out["chorale_faster_than_real_time"] = round(music_s / chorale_s, 1)
    out["chorale_notes"] = len(clip.notes)
    out["chorale_tokens_per_s"] = round(tokens / chorale_s, 1)

    # 3. click to the first note heard: live (each note to a warm synth as it is chosen) against
    # the old path (a bar written, rendered by a new synth, then played), in the same run
    ctx.progress(0.7, "time from the click to the first note heard")
    out.update(_first_note(engine, ctx))

    # 4. samples/s of every family at the transformer's size (untrained, same device, same run)
    ctx.progress(0.85, "samples per second of each model family")
    from studio.music.families.bench import bench_families

    out["families_4_bar_samples"] = bench_families(ctx.child(), device)
    ctx.progress(1.0, "done")
    return out
