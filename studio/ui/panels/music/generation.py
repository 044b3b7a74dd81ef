"""Generation in the Music panel: build a request from the document, run it as a job, show the
bars so far as a preview (not in the document), then apply the takes as ONE undo step; Listen plays
the bars while they are written."""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtCore import QTimer

from studio.core.jobs import JobSpec
from studio.core.media import MidiClip
from studio.music.document import TRANSFORMER
from studio.ui.jobs import JobHandle

__all__ = ["GenerationMixin", "render_bar", "run_family_request", "merge_groove"]


def draw_seed() -> int:
    """A new random seed for a generation whose Seed box says random (-1); it is shown in the take,
    so it can be reused. (The UI tests make it a fixed sequence, so a run is reproducible.)"""
    return random.SystemRandom().randrange(2**24)


def _concat(clips: list[MidiClip]) -> MidiClip:
    from studio.music.cli import _concat as concat

    return concat(clips)


def merge_groove(clip: MidiClip | None, groove: MidiClip) -> MidiClip:
    """``groove``'s tracks added to ``clip`` on channels it does not use (drums stay on the drum
    channel), at the clip's tempo; the groove alone when the clip is empty."""
    from studio.core.media import DRUM_CHANNEL, Note

    if clip is None or not clip.notes:
        return groove
    used = {n.channel for n in clip.notes}
    free = [c for c in range(16) if c != DRUM_CHANNEL and c not in used]
    mapping: dict[int, int] = {}
    for ch in sorted({n.channel for n in groove.notes}):
        if ch == DRUM_CHANNEL:
            mapping[ch] = ch
        elif free:
            mapping[ch] = free.pop(0)
    notes = list(clip.notes) + [
        Note(n.start, n.pitch, n.duration, n.velocity, mapping[n.channel])
        for n in groove.notes
        if n.channel in mapping
    ]
    programs = dict(clip.programs)
    for ch, program in groove.programs.items():
        if ch in mapping:
            programs[mapping[ch]] = program
    out = MidiClip(sorted(notes), bpm=clip.bpm, beats_per_bar=clip.beats_per_bar,
                   programs=programs, length=max(clip.length_beats, groove.length_beats),
                   beat_unit=clip.beat_unit)  # fmt: skip
    out.provenance = dict(groove.provenance)
    return out


def run_family_request(model, request: dict[str, Any], ctx) -> list[MidiClip]:
    """Run one LSTM / VAE / GAN request (Qt-free; the job's body): the clips to apply."""
    mode, seed, n = request["mode"], request["seed"], request.get("n", 1)
    if mode == "generate":
        out = []
        for i in range(n):
            ctx.check_cancelled()
            out.append(model.generate(request["bars"], meter=request["meter"],
                                      tempo=request["tempo"], style=request["style"],
                                      seed=seed + i, ctx=ctx))  # fmt: skip
            ctx.progress((i + 1) / n, f"take {i + 1} of {n}")
        return out
    if mode == "continue":
        out = []
        for i in range(n):
            ctx.check_cancelled()
            out.append(model.continue_(request["clip"], request["bars"], seed=seed + i, ctx=ctx))
            ctx.progress((i + 1) / n, f"take {i + 1} of {n}")
        return out
    if mode == "interpolate":
        steps = model.interpolate(request["a"], request["b"], request["steps"], seed=seed, ctx=ctx)
        whole = _concat(steps)
        whole.provenance.update({"mode": "interpolate", "seed": seed, "steps": len(steps)})
        return [whole, *steps]
    if mode == "variations":
        return model.variations(request["clip"], request["amount"], n, seed=seed, ctx=ctx)
    if mode == "attributes":
        return [model.attribute(request["clip"], "density", request["density"], seed=seed,
                                ctx=ctx)]  # fmt: skip
    if mode == "groove":
        under = request.get("under")
        groove = model.groove(request["style"], request["bars"], under, seed=seed, ctx=ctx)
        if under is not None:
            groove.bpm = under.bpm
            return [groove]
        return [merge_groove(request.get("clip"), groove)]
    raise ValueError(f"the {model.family} model has no {mode} mode")


def render_bar(request, ctx):
    """One bar of a clip as audio of exactly one bar's length, at a fixed level (no per-bar
    normalisation, so bars heard one after another keep their loudness)."""
    import numpy as np

    from studio.core.media import AudioClip
    from studio.music.playback import slice_clip
    from studio.music.synth import render

    clip, b = request["clip"], request["bar"]
    bar = clip.bar_length
    part = slice_clip(clip, b * bar, (b + 1) * bar)
    rate = 44100
    frames = int(round(bar * 60.0 / clip.bpm * rate))
    if not part.notes:
        return AudioClip(np.zeros((frames, 2), np.float32), rate)
    audio = render(part, request["soundfont"], rate, ctx, tail=0.0, gain=4.0, normalize=False)
    samples = np.zeros((frames, 2), np.float32)
    take = min(frames, len(audio.samples))
    samples[:take] = np.clip(audio.samples[:take], -1, 1)
    return AudioClip(samples, rate)


class _CancelState:
    """What PanelBase calls ``cancel_button``: Cancel (Esc) is on while a job runs or sound
    plays."""

    def __init__(self, panel) -> None:
        self.panel = panel

    def setEnabled(self, _on: bool) -> None:  # noqa: N802 - the QWidget name PanelBase calls
        self.panel.update_cancel()


def _warm_transformer(request, ctx):
    """Load the transformer and run it on the panel's current settings' first tokens (on the
    'music' worker, where generations run), so a click pays only for its own first notes."""
    from studio.music.engine import MusicRequest
    from studio.ui.panels.music import panel

    host = panel.music_host(request.pop("_model"))
    ctx.progress(0.0, "loading the music model" if not host.loaded else "warming up")
    engine = host.get(request.pop("_device"))
    with host.inference():
        engine.warm(MusicRequest(**request))
    return None


def preload_enabled() -> bool:
    """Whether the panel loads its model when shown (``STUDIO_PRELOAD=0`` turns it off: tests
    that swap the model in, or a machine short of memory)."""
    import os

    return os.environ.get("STUDIO_PRELOAD", "1") != "0"


class GenerationMixin:
    """The generation half of MusicPanel (it needs the panel's document, controls and editor)."""

    _warmed_once = False

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._warmed_once:
            self._warmed_once = True
            self.controls.edited.connect(self._on_controls_edited_warm)
            if preload_enabled():
                # after the window's first paint and whatever the click that showed it started
                QTimer.singleShot(500, self, self.warm)

    def _on_controls_edited_warm(self, name: str, _value) -> None:
        if name == "model_choice" and preload_enabled():
            QTimer.singleShot(0, self, self.warm)

    def warm(self) -> JobHandle | None:
        """Get the chosen transformer ready on its worker (loaded, its first tokens run for the
        current settings) and, with Listen on, Listen's sound, so that Generate's first note
        sounds within a few milliseconds. None when there is nothing to warm (another family,
        a plugin, or a job running)."""
        if not getattr(self.context, "loaded", True):
            # the settings and the model list come right after the first paint: warm the model
            # the list will name (else the click would load it again)
            QTimer.singleShot(250, self, self.warm)
            return None
        if self.context.runner.closed:
            return None  # the window closed before the timer that asked for this fired
        doc = self.document
        if doc.listen:
            self.warm_sound()
        if doc.generator != TRANSFORMER or self.family() not in ("", "transformer"):
            return None
        if self.job is not None and not self.job.done:
            return None  # it is loading or using the model already
        try:
            request = self.transformer_request("generate")
        except ValueError:
            return None
        for name in ("seed", "variations"):
            request.pop(name, None)
        handle = self.context.runner.submit(
            JobSpec(
                "Music: getting the model ready",
                _warm_transformer,
                request,
                family="music",
                key="music.warm",
            )
        )
        handle.succeeded.connect(self._on_warm_job_succeeded)
        return handle

    def _on_warm_job_succeeded(self, _result) -> None:
        # What is alive now (Qt, torch, the model) lives as long as the app: Python's full
        # garbage collection no longer walks it. One walk took 0.1-0.3 s here, and one landing
        # on a click held up its first note that long.
        import gc

        gc.freeze()

    @property
    def cancel_button(self) -> _CancelState:
        return _CancelState(self)

    def update_cancel(self) -> None:
        busy = (self.job is not None and not self.job.done) or self.player.playing
        busy = busy or self._live_sounding()
        self.actions_by_name["cancel"].setEnabled(busy or self._play_pending())

    def _play_pending(self) -> bool:
        return self.play_job is not None and not self.play_job.done

    # -- requests ----------------------------------------------------------------------------------
    def transformer_request(self, mode: str) -> dict[str, Any]:
        """The engine request for ``mode`` from the document. Raises ValueError (shown in the
        status line) when the clip or the selection does not allow it."""
        from studio.music.engine import parse_instruments

        doc = self.document
        model = self.controls.model.currentData()
        request: dict[str, Any] = {
            "mode": mode,
            "key": doc.key or None,
            "meter": doc.meter or None,
            "tempo": doc.tempo or None,
            "style": doc.style,
            "bars": doc.bars,
            "temperature": doc.temperature,
            "top_p": doc.top_p,
            # A random seed is drawn here and shown in the take, so it can be reused.
            "seed": doc.seed if doc.seed >= 0 else draw_seed(),
            "variations": doc.variations,
            "strict_key": doc.strict_key,
            "instruments": parse_instruments(doc.instruments),
            "_device": self.context.device,
            "_model": (self.context.store, model) if model is not None else None,
        }
        if mode != "generate" and not doc.clip.notes:
            raise ValueError(f"{mode} needs notes: import, draw or generate some first")
        if mode != "generate":
            request["clip"] = doc.midi_clip()
        if mode == "infill":
            if not doc.bar_range:
                raise ValueError("select the bars to infill: drag on the ruler above the notes")
            request["bar_range"] = tuple(doc.bar_range)
        if mode == "harmonize":
            channel = doc.current_track()
            request["melody_channel"] = channel
            clip = doc.midi_clip()
            clip.notes = [n for n in clip.notes if n.channel == channel]
            request["clip"] = clip
        return request

    def family_request(self, mode: str, family: str) -> dict[str, Any]:
        """The request of an LSTM / VAE / GAN job. Raises ValueError (shown in the status line)
        when the clip, the takes or the model do not allow it."""
        from studio.music.engine import parse_meter
        from studio.music.families import FAMILY_MODES, NotSupportedError

        doc = self.document
        if mode not in FAMILY_MODES[family]:
            raise NotSupportedError(family, mode, FAMILY_MODES[family])
        entry = self.controls.model.currentData()
        if entry is None:
            raise ValueError(f"no {family} model is installed: train one (Train on my MIDI "
                             "folder…)")  # fmt: skip
        request: dict[str, Any] = {
            "mode": mode,
            "seed": doc.seed if doc.seed >= 0 else draw_seed(),
            "bars": doc.bars,
            "n": doc.variations,
            "_model": str(entry.path),
            "_device": self.context.device,
        }
        if mode in ("continue", "variations", "attributes") and not doc.clip.notes:
            raise ValueError(f"{mode} needs notes: import, draw or generate some first")
        if mode == "generate":
            request["meter"] = parse_meter(doc.meter) if doc.meter else (4, 4)
            request["tempo"] = float(doc.tempo or doc.clip.bpm or 120.0)
            request["style"] = {"gan": doc.groove_style, "lstm": doc.style}.get(family)
        elif mode in ("continue", "variations", "attributes"):
            request["clip"] = doc.midi_clip()
            request["amount"] = float(doc.amount)
            request["density"] = float(doc.density)
        elif mode == "interpolate":
            a = self._interp_clip(doc.interp_a, doc.interp_a_file)
            b = self._interp_clip(doc.interp_b, doc.interp_b_file)
            if doc.interp_a == doc.interp_b and (doc.interp_a != -2 or a.notes == b.notes):
                raise ValueError("choose two different clips to interpolate: From and To are "
                                 "the same")  # fmt: skip
            request.update(a=a, b=b, steps=int(doc.interp_steps))
        elif mode == "groove":
            request["style"] = doc.groove_style
            if doc.groove_under and doc.clip.notes:
                request["under"] = doc.midi_clip()
                request["bars"] = max(1, int(-(-round(doc.clip.bars, 6) // 1)))
            else:
                request["clip"] = doc.midi_clip()
        return request

    def _interp_clip(self, which: int, file: str = "") -> MidiClip:
        doc = self.document
        if which == -2:
            from pathlib import Path

            if not file:
                raise ValueError("choose the MIDI file to interpolate with (a MIDI file…)")
            try:
                clip = MidiClip.load(Path(file))
            except (OSError, ValueError) as exc:
                raise ValueError(f"{Path(file).name} cannot be read: {exc}") from None
            if not clip.notes:
                raise ValueError(f"{Path(file).name} has no notes")
            return clip
        if which < 0:
            if not doc.clip.notes:
                raise ValueError("the clip is empty: draw, import or generate one to "
                                 "interpolate from")  # fmt: skip
            return doc.midi_clip()
        if which >= len(doc.takes):
            raise ValueError(f"there is no take {which + 1}: generate some takes first")
        return doc.takes[which].to_midi()

    def _label(self, mode: str) -> str:
        """The undo step's name: what Edit ▸ Undo will say."""
        doc = self.document
        bars = f"{doc.bars} bar{'s' * (doc.bars != 1)}"
        if mode == "infill" and doc.bar_range:
            first, last = doc.bar_range
            return f"Infill bars {first}–{last}" if last > first else f"Infill bar {first}"
        if mode == "harmonize":
            return f"Harmonize track {(doc.current_track() or 0) + 1}"
        if mode == "interpolate":
            from pathlib import Path

            name = {-1: "the clip", -2: Path(doc.interp_a_file).name}
            a = name.get(doc.interp_a, f"take {doc.interp_a + 1}")
            name[-2] = Path(doc.interp_b_file).name
            b = name.get(doc.interp_b, f"take {doc.interp_b + 1}")
            return f"Interpolate {a} to {b} in {doc.interp_steps} steps"
        if mode == "variations":
            return f"Variations (how far {doc.amount:.2f})"
        if mode == "attributes":
            return f"Density {doc.density:+.1f}"
        if mode == "groove":
            return f"Drum groove ({doc.groove_style})"
        return {"continue": f"Continue {bars}"}.get(mode, f"Generate {bars}")

    def generate(self, mode: str = "generate") -> JobHandle | None:
        """Start a generation (``mode``: generate, continue, infill, harmonize). None, with the
        reason in the status line, when it can't start."""
        doc = self.document
        ref_id = doc.generator
        try:
            family = self.family() if ref_id == TRANSFORMER else ""
            if ref_id == TRANSFORMER:  # the transformer, or a model of another family
                other = bool(family) and family != "transformer"
                request = (self.family_request(mode, family) if other
                           else self.transformer_request(mode))  # fmt: skip
                label = self._label(mode)
                spec = JobSpec(
                    f"Music: {label.lower()}",
                    self._family_fn() if other else self._transformer_fn(),
                    request,
                    family="music",
                    key="music.generate",
                )
            elif mode != "generate":
                raise ValueError(f"only the music transformer can {mode}")
            else:
                registry, device = self.context.registry, self.context.device
                values = self.controls.plugin_form.values() | doc.plugin_values.get(ref_id, {})
                title = self.controls.generator.currentText()
                label = f"Generate with {title}"

                def work(req, ctx):
                    return [registry.run(ref_id, req, ctx, device=device)]

                spec = JobSpec(
                    f"Music: {title}", work, dict(values), family=f"plugin:{ref_id}",
                    key="music.generate",
                )  # fmt: skip
        except ValueError as exc:
            self.status.setText(f"⚠ {exc}")
            return None
        self._job_label, self._job_document = label, doc
        self._start_listening(spec, mode)
        live = self._attach_live(spec) if family in ("", "transformer") else None
        handle = self.start_job(spec)
        self._live_job = handle if live is not None else None
        if live is not None:
            self._play_timer.start()  # the playhead follows the notes as they sound
        return handle

    @staticmethod
    def _family_fn():
        from studio.ui.panels.music import panel

        return panel._run_family

    @staticmethod
    def _transformer_fn():
        from studio.ui.panels.music import panel

        return panel._run_transformer

    # -- results -----------------------------------------------------------------------------------
    def cancel(self, _checked: bool = False) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        elif self.player.playing or self._play_pending() or self._live_sounding():
            self.stop()

    def _on_job_partial(self, clip: MidiClip) -> None:
        if self._is_current():
            self._preview = clip  # shown, not in the document (and not an undo step)
            self.editor.set_clip(clip, keep_selection=True)
            if self.document.listen and not self._live_listening():
                self._listen(clip, final=False)

    def _end_preview(self) -> None:
        self._preview = None
        self._show_clip()

    def _on_job_succeeded(self, clips: list[MidiClip]) -> None:
        if not self._is_current():
            return
        self.progress.setValue(1000)
        self._preview = None
        doc = self.document
        if doc is not self._job_document:  # File ▸ New or Open while it ran
            self._show_clip()
            self.update_cancel()
            return
        had_notes = bool(doc.clip.notes)
        if self._live_listening():
            self.live.finish()  # what is scheduled plays out, then the output stops
            self._live_problem()
        elif doc.listen:
            self._listen(clips[0], final=True)
        doc.apply_generation(self._job_label, clips)  # one undo step, whatever the mode
        if self.editor.clip.notes != list(doc.clip.notes):  # the same notes as before the job
            self._show_clip()
        self.update_cancel()
        if not had_notes:
            self.editor.show_notes()
        first = doc.clip
        info = dict(first.provenance)
        self.status.setText(
            f"{len(first.notes)} notes, {first.bars:.0f} bars, key {info.get('key', '?')}, "
            f"seed {info.get('seed', '?')}"
            + (f"\n{self.listen_problem}" * bool(self.listen_problem))
        )

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if self._is_current():
            self._stop_live()
            self._end_preview()
            self.update_cancel()
            self.status.setText(f"⚠ {message}")

    def _on_job_cancelled(self) -> None:
        if self._is_current():
            self._stop_live()
            self._end_preview()  # drop the preview: the document never changed
            self.update_cancel()
            self.status.setText(self.cancelled_message)

    # -- Listen: hear the bars while they are written --------------------------------------------
    def _start_listening(self, spec: JobSpec, mode: str) -> None:
        """Where the new bars begin, so Listen plays them as they are written."""
        doc = self.document
        self._listen_next = 0
        self.listen_problem = ""
        bar = doc.clip.bar_length
        self._listen_until: float | None = None
        self._listen_from = 0.0
        if doc.generator == TRANSFORMER and mode == "continue":
            self._listen_from = -(-doc.clip.length_beats // bar) * bar
            self._listen_until = self._listen_from + doc.bars * bar
        elif doc.generator == TRANSFORMER and mode == "infill" and doc.bar_range:
            self._listen_from = (doc.bar_range[0] - 1) * bar
            self._listen_until = doc.bar_range[1] * bar
        if doc.listen:
            self.player.stop()
            self.player.offset_beats = self._listen_from
            tempo = spec.request.get("tempo") if isinstance(spec.request, dict) else None
            self.player.bpm = tempo or doc.clip.bpm

    # -- Listen, live: each note sounds as soon as the transformer has chosen it ------------------
    def _attach_live(self, spec: JobSpec):
        """Hand the transformer job the live player when Listen is on (its notes then sound while
        it writes them, from the job's thread straight to the audio callback: no hop through
        this thread). None when Listen is off. When it cannot sound (no output device, no synth)
        the job says so as it ends, and Listen turns off."""
        doc = self.document
        if not doc.listen or not isinstance(spec.request, dict) or "_model" not in spec.request:
            return None
        live = self.live
        if not live.prepared:
            live.problem = ""  # look again (a sound card plugged in since): the job opens it
        live.reset(self._listen_from)
        # the notes go through a session of this job: a stale job's last notes are ignored
        spec.request["listener"] = live.listener()
        return live

    def _live_listening(self) -> bool:
        """The current (or last) job's notes go to the live player."""
        return getattr(self, "_live_job", None) is not None

    def _stop_live(self) -> None:
        if self._live_listening():
            self._live_job = None
            self.live.stop()
            self._live_problem()

    def _live_problem(self) -> None:
        """Say why Listen could not sound (no output device, no synth) and turn it off."""
        problem = self.live.problem
        if problem:
            self._live_job = None
            self.document.set_quiet(listen=False)
            self.listen_problem = f"⚠ Listen: {problem}"
            self.status.setText(self.listen_problem)

    def _listen(self, clip: MidiClip, final: bool) -> None:
        """Queue each newly finished bar of a job's preview for playback, in order (bars written
        track by track are heard as the first track is written)."""
        bar = clip.bar_length
        new = [n for n in clip.notes if n.start >= self._listen_from - 1e-9]
        if final:  # every bar the job wrote, silent ones included
            end = self._listen_until if self._listen_until is not None else clip.length_beats
            done = int(-(-round(end, 6) // bar))
        elif new:  # a bar is finished once a later one has begun
            done = int(max(n.start for n in new) // bar)
        else:
            return
        for b in range(max(int(self._listen_from // bar), self._listen_next), done):
            self._listen_next = b + 1
            request = {"clip": clip, "bar": b, "soundfont": self.soundfont()}
            handle = self.context.runner.submit(
                JobSpec(f"Listen: bar {b + 1}", render_bar, request, family="music-listen")
            )
            handle.succeeded.connect(self._on_listen_job_succeeded)

    def _on_listen_job_succeeded(self, audio) -> None:
        from studio.music.playback import NoAudioDevice

        try:
            self.player.append(audio)
        except NoAudioDevice as exc:
            self.document.set_quiet(listen=False)
            self.listen_problem = f"⚠ Listen: {exc}"
            self.status.setText(self.listen_problem)
            return
        self._play_start = self.player.offset_beats
        self._play_timer.start()
        self.update_cancel()
