"""Arrange panel: the music, the sung and spoken takes and the video on one timeline; lanes with
gain, pan, mute, solo and effects; a master with a meter and loudness mastering; play, loop and
export (mix, stems, music video).

The panel is a view of the project's :class:`~studio.arrange.document.ArrangeDocument`: every
gesture is one document command (Edit ▸ Undo), and the widgets are redrawn from the document's
events. Mixing and exporting run on a worker (``studio.arrange.mix`` / ``export``), playback
streams through sounddevice.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from studio.arrange.document import ArrangeDocument
from studio.core.document import DocumentError
from studio.core.jobs import JobSpec
from studio.ui.context import StudioContext
from studio.ui.dialogs import files
from studio.ui.panels.arrange import controls
from studio.ui.panels.base import PanelBase

__all__ = ["ArrangePanel"]

log = logging.getLogger(__name__)
ADD_FILTER = ("Media (*.mid *.midi *.wav *.flac *.ogg *.aiff *.mp3 *.mp4 *.mov *.mkv *.webm "
              "*.png *.jpg *.jpeg *.webp);;All files (*)")  # fmt: skip
MIX_FILTER = "WAV audio (*.wav);;FLAC audio (*.flac)"
VIDEO_FILTER = "MP4 video (*.mp4)"
NO_SOUND = "No sound card was found, so playback is off; mixing and export still work."


def _mix_job(request, ctx):
    """On the worker: mix, then write what ``what`` asks for. Returns (what, result, paths)."""
    from studio.arrange import export
    from studio.arrange.mix import render_mix

    doc, what, path, region = request
    start, end = region if region else (None, None)
    result = render_mix(doc, ctx, stems=what == "stems", start=start, end=end)
    paths = []
    if what == "export":
        paths = [export.export_audio(result, path)]
    elif what == "stems":
        paths = export.export_stems(result, path)
    elif what == "video":
        paths = [export.export_video(doc, result, path, ctx)]
    return what, result, paths


class ArrangePanel(PanelBase):
    panel_id = "arrange"
    title = "Arrange"
    cancelled_message = "Cancelled; nothing was written."

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job = None
        self.mix = None  # the last MixResult, with the document revision it was made from
        self._mix_key: tuple | None = None
        self._play_from = 0.0  # seconds on the timeline where the playing audio starts
        self._player = None
        controls.build(self)
        self.setFocusProxy(self.timeline)
        self.play_timer = QTimer(self)
        self.play_timer.setObjectName("arrange.play_timer")
        self.play_timer.setInterval(33)
        self.play_timer.timeout.connect(self._on_play_timer_timeout)
        self._connect()
        self.set_document(context.project.document(self.panel_id))

    def _connect(self) -> None:
        t = self.timeline
        t.clip_selected.connect(self._on_timeline_clip_selected)
        t.lane_selected.connect(self._on_timeline_lane_selected)
        t.playhead_set.connect(self._on_timeline_playhead_set)
        t.clip_moved.connect(self._on_timeline_clip_moved)
        t.clip_trimmed.connect(self._on_timeline_clip_trimmed)
        t.lane_toggled.connect(self._on_timeline_lane_toggled)
        t.zoom_requested.connect(self._on_zoom_box_changed)
        self.tempo_box.valueChanged.connect(self._on_tempo_box_changed)
        self.snap_combo.activated.connect(self._on_snap_combo_activated)
        self.zoom_box.valueChanged.connect(self._on_zoom_box_changed)
        self.follow_button.clicked.connect(self.follow_music)
        self.add_button.clicked.connect(self.add_file_dialog)
        for kind in ("music", "voice", "image", "video"):
            button = getattr(self, f"send_{kind}_button")
            button.clicked.connect(lambda _=False, k=kind: self.send(k))
        self.add_lane_button.clicked.connect(self._on_add_lane_clicked)
        self.split_button.clicked.connect(self.split)
        self.delete_button.clicked.connect(self.delete_clip)
        self.clip_loop.toggled.connect(self._on_clip_loop_toggled)
        for name in ("clip_start", "clip_length", "fade_in", "fade_out", "clip_gain"):
            getattr(self, name).valueChanged.connect(self._on_clip_box_changed)
        self.lane_gain.valueChanged.connect(self._on_lane_box_changed)
        self.lane_pan.valueChanged.connect(self._on_lane_box_changed)
        self.lane_mute.toggled.connect(self._on_lane_box_changed)
        self.lane_solo.toggled.connect(self._on_lane_box_changed)
        for box in self.lane_effects.values():
            box.valueChanged.connect(self._on_lane_effect_changed)
        self.delete_lane_button.clicked.connect(self._on_delete_lane_clicked)
        self.master_gain.valueChanged.connect(self._on_master_changed)
        for box in self.master_effects.values():
            box.valueChanged.connect(self._on_master_changed)
        self.master_on.toggled.connect(self._on_master_changed)
        self.lufs_box.valueChanged.connect(self._on_master_changed)
        self.export_button.clicked.connect(self.export_dialog)
        self.stems_button.clicked.connect(self.export_stems_dialog)
        self.video_button.clicked.connect(self.export_video_dialog)
        self.cancel_button.clicked.connect(self.cancel)
        self.play_button.clicked.connect(self.play)
        self.stop_button.clicked.connect(self.stop)
        self.loop_check.toggled.connect(self._on_loop_check_toggled)
        self.loop_button.clicked.connect(self.loop_selected_clip)
        self.mix_button.clicked.connect(self.mix_now)
        act = controls.action
        act(self, "arrange.play_stop", "Play / stop", "Space", self.toggle_play)
        act(self, "arrange.mix_now", "Mix now", "Ctrl+Return", self.mix_now)
        act(self, "arrange.export_now", "Export the mix…", "Ctrl+E", self.export_dialog)
        act(self, "arrange.escape", "Stop and cancel", "Escape", self.cancel)
        act(self, "arrange.delete", "Delete the selected clip", "Delete", self.delete_clip)

    # -- the document ------------------------------------------------------------------------------
    def bind_document(self, document: ArrangeDocument) -> None:
        self.stop()
        self.mix = None
        self.timeline.doc = document
        self._mirror()
        self.timeline.refresh()
        if document.messages:
            self.status.setText("\n".join(document.messages))

    def on_document_changed(self, name: str, value) -> None:
        if name in ("playhead", "selected_clip", "selected_lane", "zoom", "snap"):
            self._mirror()
            self.timeline.viewport().update() if name != "zoom" else self.timeline.refresh()
            return
        self._mirror()
        self.timeline.refresh()

    def _mirror(self) -> None:
        """Every control shows the document (signals blocked: mirroring is not a gesture)."""
        doc = self.document
        clip = doc.clip(doc.selected_clip)
        lane = doc.lane(doc.selected_lane) or (doc.lane(clip.lane) if clip else None)
        values = {
            self.tempo_box: doc.bpm, self.zoom_box: doc.zoom, self.master_gain: doc.master_gain_db,
            self.lufs_box: doc.target_lufs if doc.target_lufs is not None else -14.0,
        }  # fmt: skip
        for key, box in self.master_effects.items():
            values[box] = getattr(doc.master_effects, key)
        if clip is not None:
            values.update({self.clip_start: 1 + clip.start / doc.bar_length,
                           self.clip_length: clip.length, self.fade_in: clip.fade_in,
                           self.fade_out: clip.fade_out, self.clip_gain: clip.gain_db})  # fmt: skip
        if lane is not None:
            values.update({self.lane_gain: lane.gain_db, self.lane_pan: lane.pan})
            for key, box in self.lane_effects.items():
                values[box] = getattr(lane.effects, key)
        for widget, value in values.items():
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        for check, on in ((self.master_on, doc.target_lufs is not None),
                          (self.clip_loop, bool(clip and clip.loop)),
                          (self.lane_mute, bool(lane and lane.mute)),
                          (self.lane_solo, bool(lane and lane.solo)),
                          (self.loop_check, self.loop_check.isChecked() and bool(
                              doc.loop_region))):  # fmt: skip
            check.blockSignals(True)
            check.setChecked(on)
            check.blockSignals(False)
        snap = doc.bar_length if self.snap_combo.currentData() == -1 else doc.snap
        index = next((i for i, (_t, v) in enumerate(controls.SNAPS)
                      if (doc.bar_length if v == -1 else v) == doc.snap), 1)  # fmt: skip
        if snap != doc.snap or self.snap_combo.currentIndex() != index:
            self.snap_combo.setCurrentIndex(index)
        self.clip_group.setEnabled(clip is not None)
        self.lane_group.setEnabled(lane is not None)
        self.lane_group.setTitle(f"Lane: {lane.name}" if lane else "Selected lane")
        has_clips = bool(doc.clips)
        for widget in (self.export_button, self.stems_button, self.video_button,
                       self.mix_button, self.play_button):  # fmt: skip
            widget.setEnabled(has_clips)
        self._show_position(doc.playhead)

    def _show_position(self, beat: float) -> None:
        doc = self.document
        minutes, seconds = divmod(doc.seconds_at(beat), 60)
        self.position_label.setText(f"{doc.bar_beat(beat)}  {int(minutes)}:{seconds:04.1f}")

    # -- gestures ----------------------------------------------------------------------------------
    def _on_timeline_clip_selected(self, clip_id: int) -> None:
        clip = self.document.clip(clip_id)
        self.document.set_quiet(selected_clip=clip_id,
                                selected_lane=clip.lane if clip else 0)  # fmt: skip

    def _on_timeline_lane_selected(self, lane_id: int) -> None:
        self.document.set_quiet(selected_lane=lane_id, selected_clip=0)

    def _on_timeline_playhead_set(self, beat: float) -> None:
        self.document.set_quiet(playhead=beat)

    def _on_timeline_clip_moved(self, clip_id: int, start: float, lane_id: int) -> None:
        self._try(self.document.move_clip, clip_id, start, lane_id)

    def _on_timeline_clip_trimmed(self, clip_id: int, start, end) -> None:
        self._try(self.document.trim_clip, clip_id, start, end)

    def _on_timeline_lane_toggled(self, lane_id: int, what: str) -> None:
        lane = self.document.lane(lane_id)
        self.document.set_lane(lane_id, **{what: not getattr(lane, what)})

    def _try(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DocumentError, ValueError, KeyError, OSError) as exc:
            self.status.setText(f"⚠ {exc}")
            return None

    def _on_tempo_box_changed(self, value: float) -> None:
        self._try(self.document.set_tempo, value)

    def _on_snap_combo_activated(self, _index: int) -> None:
        value = self.snap_combo.currentData()
        self.document.set_quiet(snap=self.document.bar_length if value == -1 else value)

    def _on_zoom_box_changed(self, value: float) -> None:
        self.document.set_quiet(zoom=value)

    def _on_add_lane_clicked(self) -> None:
        self._try(self.document.add_lane, "audio")

    def _on_delete_lane_clicked(self) -> None:
        self.document.remove_lane(self.document.selected_lane)

    def _on_clip_loop_toggled(self, on: bool) -> None:
        if self.document.selected_clip:
            self.document.set_clip(self.document.selected_clip, loop=on)

    def _on_clip_box_changed(self, _value) -> None:
        doc, box = self.document, self.sender()
        clip = doc.clip(doc.selected_clip)
        if clip is None:
            return
        if box is self.clip_start:
            self._try(doc.move_clip, clip.id, (box.value() - 1) * doc.bar_length, snap=False)
        elif box is self.clip_length:
            self._try(doc.trim_clip, clip.id, end=clip.start + box.value(), snap=False)
        else:
            field = {self.fade_in: "fade_in", self.fade_out: "fade_out",
                     self.clip_gain: "gain_db"}[box]  # fmt: skip
            doc.set_clip(clip.id, **{field: box.value()})

    def _on_lane_box_changed(self, _value) -> None:
        doc, box = self.document, self.sender()
        if doc.lane(doc.selected_lane) is None:
            return
        field = {self.lane_gain: "gain_db", self.lane_pan: "pan", self.lane_mute: "mute",
                 self.lane_solo: "solo"}[box]  # fmt: skip
        value = box.isChecked() if field in ("mute", "solo") else box.value()
        doc.set_lane(doc.selected_lane, **{field: value})

    def _on_lane_effect_changed(self, value: float) -> None:
        doc = self.document
        key = next(k for k, b in self.lane_effects.items() if b is self.sender())
        if doc.lane(doc.selected_lane) is not None:
            doc.set_lane_effects(doc.selected_lane, **{key: value})

    def _on_master_changed(self, _value) -> None:
        doc, box = self.document, self.sender()
        if box is self.master_gain:
            doc.set_master(gain_db=box.value())
        elif box in (self.master_on, self.lufs_box):
            on = self.master_on.isChecked()
            doc.set_master(target_lufs=self.lufs_box.value() if on else None)
        else:
            key = next(k for k, b in self.master_effects.items() if b is box)
            doc.set_master(**{key: box.value()})

    def follow_music(self) -> None:
        music = self.context.project.document("music")
        self._try(self.document.follow_music, music.clip)

    def send(self, kind: str) -> None:
        """Put what panel ``kind`` holds on a new lane at the playhead ("Send to Arrange")."""
        from studio.arrange.send import send_to_arrange

        made = self._try(send_to_arrange, self.context.project, kind)
        if made:
            self.status.setText(f"Added {len(made)} clip{'s' * (len(made) != 1)} from {kind}.")

    def add_file_dialog(self) -> None:
        path = files.ask_open(self, "arrange-add", "Add to the arrangement", ADD_FILTER)
        if path is not None:
            self.add_file(path)

    def add_file(self, path: str | Path, lane_id: int | None = None) -> None:
        doc = self.document
        if self._try(doc.add_file, Path(path), None, lane_id) is not None:
            self.context.project.use_item(str(Path(path).resolve()))
            self.status.setText(f"Added {Path(path).name} at {doc.bar_beat(doc.playhead)}.")

    def split(self) -> None:
        doc = self.document
        if doc.selected_clip and doc.split_clip(doc.selected_clip, doc.playhead) is None:
            self.status.setText("Put the playhead inside the clip to split it.")

    def delete_clip(self) -> None:
        if self.document.selected_clip:
            self.document.remove_clip(self.document.selected_clip)

    def loop_selected_clip(self) -> None:
        clip = self.document.clip(self.document.selected_clip)
        if clip is not None:
            self.document.set_loop_region((clip.start, clip.end))
            self.loop_check.setChecked(True)

    def _on_loop_check_toggled(self, on: bool) -> None:
        if on and not self.document.loop_region:
            self.loop_selected_clip()

    # -- mixing, exporting -------------------------------------------------------------------------
    def _region(self):
        doc = self.document
        return doc.loop_region if self.loop_check.isChecked() and doc.loop_region else None

    def run(self, what: str, path: Path | None = None):
        """Mix on a worker, then ``what``: "mix", "play", "export", "stems" or "video"."""
        doc = self.document
        if not doc.clips:
            self.status.setText("Add music, a take or a file first.")
            return None
        if self.job is not None and not self.job.done:
            self.job.cancel()
        snapshot = ArrangeDocument(**doc.values())  # immutable values: a cheap, safe copy
        region = self._region() if what == "play" else None
        self._mix_key = (doc.revision, region)
        job = self.start_job(JobSpec(title=f"Arrange: {what}", fn=_mix_job,
                                     request=(snapshot, what, path, region), family="arrange",
                                     key="arrange.mix"))  # fmt: skip
        return job

    def mix_now(self):
        return self.run("mix")

    def export_dialog(self) -> None:
        path = files.ask_save(self, "arrange-export", "Export the mix", f"{self._name()}.wav",
                              MIX_FILTER, ".wav")  # fmt: skip
        if path is not None:
            self.run("export", path)

    def export_stems_dialog(self) -> None:
        path = files.ask_folder(self, "arrange-stems", "Folder for the stems")
        if path is not None:
            self.run("stems", path)

    def export_video_dialog(self) -> None:
        path = files.ask_save(self, "arrange-video", "Export a music video", f"{self._name()}.mp4",
                              VIDEO_FILTER, ".mp4")  # fmt: skip
        if path is not None:
            self.run("video", path)

    def _name(self) -> str:
        return self.context.project.name.lower().replace(" ", "-") or "mix"

    def cancel(self) -> None:
        self.stop()
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def _on_job_succeeded(self, payload) -> None:
        if not self._is_current():
            return
        what, result, paths = payload
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        self.mix = result
        self.loudness_label.setText(
            f"{result.loudness:.1f} LUFS integrated, true peak "
            f"{result.true_peak:.1f} dBTP, {result.seconds:.1f} s"
        )
        lines = [f"Wrote {', '.join(p.name for p in paths)}."] if paths else []
        if what == "video" and paths:
            self.context.project.document("video")  # the project knows the panel exists
        lines += result.messages
        self.status.setText("\n".join(lines) or f"Mixed {result.seconds:.1f} s.")
        for path in paths:
            self.remember_saved(path, result.provenance)
        if what == "play":
            self._start_playing(result)

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(f"⚠ {message}")

    # -- playing -----------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self._player is not None and self._player.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        from studio.music.playback import AudioPlayer

        ok, _why = AudioPlayer.output_available()
        if not ok:
            self.status.setText(NO_SOUND)
            return
        if self.mix is not None and self._mix_key == (self.document.revision, self._region()):
            self._start_playing(self.mix)
        else:
            self.run("play")

    def _start_playing(self, result) -> None:
        from studio.core.media import AudioClip
        from studio.music.playback import AudioPlayer, NoAudioDevice

        doc = self.document
        region = self._region()
        start = 0.0 if region else doc.seconds_at(doc.playhead)
        self._play_from = doc.seconds_at(region[0]) if region else start
        first = int(start * result.sample_rate)
        self._player = self._player or AudioPlayer()
        try:
            self._player.play(AudioClip(result.audio[first:], result.sample_rate),
                              loop=region is not None, bpm=60.0)  # fmt: skip
        except NoAudioDevice as exc:
            self.status.setText(f"{NO_SOUND} ({exc})")
            return
        self.play_timer.start()
        self.play_button.setText("Playing")

    def stop(self) -> None:
        if self._player is not None:
            self._player.stop()
        self.play_timer.stop()
        self.play_button.setText("Play")
        self.timeline.play_beat = None
        self.meter.set_levels(float("-inf"), float("-inf"))
        self.timeline.viewport().update()

    def _on_play_timer_timeout(self) -> None:
        import math

        import numpy as np

        player, mix, doc = self._player, self.mix, self.document
        if player is None or not player.playing or mix is None:
            self.stop()
            return
        seconds = player.position  # seconds played (bpm 60: beats are seconds)
        region = self._region()
        if region:
            span = doc.seconds_at(region[1]) - doc.seconds_at(region[0])
            seconds = seconds % max(1e-6, span)
        at = self._play_from + seconds
        beat = doc.beat_at(at)
        self.timeline.set_play_beat(beat)
        self._show_position(beat)
        origin = self._play_from if region else 0.0  # a loop's mix starts at the loop
        frame = int((at - origin) * mix.sample_rate)
        window = mix.audio[max(0, frame - 1024) : frame + 1024]
        if len(window):
            peaks = np.abs(window).max(axis=0)
            self.meter.set_levels(*(20 * math.log10(p) if p > 0 else float("-inf")
                                    for p in peaks[:2]))  # fmt: skip

    def shutdown(self) -> None:
        self.stop()
