"""Video panel: a live preview of a camera, a file, an image sequence or the demo clip with the
person cut out, the matte controls and background effects, and export through the same pipeline.

The panel is a view of the project's :class:`~studio.video.document.VideoDocument`: every
control's gesture is a ``document.set`` (one undo step, Edit ▸ Undo), and the widgets, the
preview and the export are updated from the document's events only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QWidget

from studio.ui.context import StudioContext
from studio.ui.dialogs import files
from studio.ui.panels.base import PanelBase
from studio.ui.panels.video import controls
from studio.ui.panels.video.controls import EFFECTS, ENGINES, IMAGE_FILTER, SOURCES, VIDEO_FILTER
from studio.ui.panels.video.exporting import ExportMixin
from studio.ui.panels.video.playback import PlaybackMixin
from studio.ui.panels.video.widgets import VIEW_MODES
from studio.video.document import VideoDocument
from studio.video.refine import REFINE_PARAMS

__all__ = ["VideoPanel"]

log = logging.getLogger(__name__)

# Fields whose change needs a new preview session, and those the running one takes in place.
_RESTART = frozenset({"source", "source_path", "camera_index", "camera_size", "camera_fps",
                      "engine", "rvm_path"})  # fmt: skip
_RECONFIGURE = frozenset({*(p.name for p in REFINE_PARAMS), "guided", "effect", "strength",
                          "color", "background_image", "background_video"})  # fmt: skip
_LABELS = {key: label for key, label, _tip in (*SOURCES, *ENGINES, *EFFECTS)}
_SOURCE_TEXTS = {
    "demo": "The demo: a photo of a person, filmed by a drifting camera.",
    "camera": "A camera: the newest frame is always shown; late frames are dropped.",
}


def _plain(label: str) -> str:
    return label.rstrip("…")


class VideoPanel(PlaybackMixin, ExportMixin, PanelBase):
    panel_id = "video"
    title = "Video"
    cancelled_message = "Export cancelled; nothing was written."

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job = None
        self._pending: set[str] = set()
        self._apply_timer = QTimer(self)  # several fields change in one step: act once
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(0)
        self._apply_timer.timeout.connect(self._on_apply_timer_timeout)
        controls.build(self)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFocusProxy(self.view)  # raising the panel puts the keys here
        self._connect()
        self.set_document(context.project.document(self.panel_id))

    def _connect(self) -> None:
        self.source_combo.activated.connect(self._on_source_combo_activated)
        self.open_button.clicked.connect(self._on_open_triggered)
        self.camera_index.valueChanged.connect(self._on_camera_changed)
        self.camera_fps.valueChanged.connect(self._on_camera_changed)
        self.camera_size.currentIndexChanged.connect(self._on_camera_changed)
        self.engine_combo.activated.connect(self._on_engine_combo_activated)
        for name, box in self.refine_boxes.items():
            box.valueChanged.connect(self._on_refine_box_changed)
            box.setProperty("field", name)
        self.guided_check.toggled.connect(self._on_guided_check_toggled)
        self.effect_combo.activated.connect(self._on_effect_combo_activated)
        self.strength_box.valueChanged.connect(self._on_strength_box_changed)
        self.colour_button.clicked.connect(self._on_colour_button_clicked)
        self.background_button.clicked.connect(self._on_background_button_clicked)
        self.view_combo.activated.connect(self._on_view_combo_activated)
        self.frames_box.valueChanged.connect(self._on_frames_box_changed)
        self.audio_check.toggled.connect(self._on_audio_check_toggled)
        self.preview_button.clicked.connect(self._on_preview_triggered)
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step)
        self.scrub.sliderPressed.connect(self._on_scrub_pressed)
        self.scrub.sliderReleased.connect(self._on_scrub_released)
        self.scrub.valueChanged.connect(self._on_scrub_moved)
        self.export_button.clicked.connect(self.export)
        self.cancel_button.clicked.connect(self.cancel)
        self.send_button.clicked.connect(self.send_matte)
        act = controls.action
        act(self, "video.play", "Play / pause", "Space", self.toggle_play)
        act(self, "video.step", "Next frame", ["Right", "."], self.step)
        act(self, "video.preview", "Preview again", "Ctrl+Return", self._on_preview_triggered)
        act(self, "video.open", "Open a video…", "Ctrl+I", self._on_open_triggered)
        act(self, "video.export", "Export…", "Ctrl+E", self.export)
        act(self, "video.send_matte", "Matte to Image panel", "Ctrl+M", self.send_matte)
        act(self, "video.cancel", "Cancel the export", "Escape", self.cancel)
        for i, (key, label) in enumerate(VIEW_MODES, 1):
            act(self, f"video.view_{key}", f"View: {label}", str(i),
                lambda _=False, key=key: self.document.set_quiet(view_mode=key))  # fmt: skip

    # -- the document ------------------------------------------------------------------------------
    @property
    def source_kind(self) -> str:
        return self.document.source

    def bind_document(self, document: VideoDocument) -> None:
        for name in document.FIELDS:
            self._mirror(name)
        self.update_controls()
        if document.messages:
            self.status.setText("\n".join(document.messages))
        self._schedule(_RESTART)

    def on_document_changed(self, name: str, value) -> None:
        self._mirror(name)
        self.update_controls()
        self._schedule({name})

    def _schedule(self, names) -> None:
        self._pending |= set(names)
        self._apply_timer.start()

    def _on_apply_timer_timeout(self) -> None:
        pending, self._pending = self._pending, set()
        if pending & _RESTART:
            self.restart_preview_if_seen()
        elif pending & _RECONFIGURE:
            self.reconfigure_preview()

    def _mirror(self, name: str) -> None:
        """Show the document's ``name`` in its widget (without the widget's signal)."""
        doc = self.document
        value = doc.get(name)
        combos = {"source": self.source_combo, "engine": self.engine_combo,
                  "effect": self.effect_combo, "view_mode": self.view_combo}  # fmt: skip
        widget: Any = None
        if name in combos:
            widget = combos[name]
            widget.blockSignals(True)
            widget.setCurrentIndex(max(0, widget.findData(value)))
        elif name in self.refine_boxes or name in ("strength", "camera_index", "camera_fps",
                                                   "export_frames"):  # fmt: skip
            widget = self.refine_boxes.get(name) or {
                "strength": self.strength_box, "camera_index": self.camera_index,
                "camera_fps": self.camera_fps, "export_frames": self.frames_box}[name]  # fmt: skip
            widget.blockSignals(True)
            widget.setValue(value)
        elif name in ("guided", "keep_audio"):
            widget = self.guided_check if name == "guided" else self.audio_check
            widget.blockSignals(True)
            widget.setChecked(bool(value))
        elif name == "camera_size":
            widget = self.camera_size
            widget.blockSignals(True)
            widget.setCurrentText(value)
        if widget is not None:
            widget.blockSignals(False)
        if name == "view_mode":
            self.view.set_mode(value)
        if name in ("source", "source_path"):
            self.source_label.setText(
                _SOURCE_TEXTS.get(doc.source, Path(doc.source_path).name or "No file chosen.")
            )

    def update_controls(self) -> None:
        doc = self.document
        live = doc.source == "camera"
        self.form.setRowVisible(self.camera_row, live)
        effect = doc.effect
        self.form.setRowVisible(self.strength_box, effect == "blur")
        self.form.setRowVisible(self.colour_button, effect == "color")
        self.form.setRowVisible(self.background_button, effect in ("image", "video"))
        self.background_button.setText(f"Choose {'picture' if effect == 'image' else 'video'}…")
        self.export_button.setEnabled(not live and not self._exporting())
        self.export_button.setToolTip(
            "A camera is previewed, not exported: record it first"
            if live
            else "Export the source through this pipeline (Ctrl+E)"
        )
        self.audio_check.setEnabled(doc.source == "file")
        self.scrub.setEnabled(not live)
        self.step_button.setEnabled(not live)
        if effect in ("image", "video"):
            path = doc.background_image if effect == "image" else doc.background_video
            self.effect_label.setText(Path(path).name if path else f"No {effect} chosen.")
        elif effect == "image-panel":
            has = self.context.shared.get("image.current") is not None
            self.effect_label.setText("" if has else "The Image panel has no picture yet.")
        elif effect == "color":
            self.effect_label.setText(f"Colour {doc.color}")
        else:
            self.effect_label.setText("")
        self.form.setRowVisible(self.effect_label, bool(self.effect_label.text()))

    # -- what the engines get ----------------------------------------------------------------------
    def source_options(self) -> dict[str, Any]:
        if self.document.source == "camera":
            return self.document.camera_options()
        if self.document.source == "demo":
            return {"width": 1280, "height": 720, "frames": 240, "fps": 30.0}
        return {}

    def pipeline_inputs(self):
        """(VideoSettings, Effect) from the document; the Image panel's picture for the
        ``image-panel`` background. Raises EffectError or ValueError with a readable message."""
        picture = self.context.shared.get("image.current")
        pixels = None if picture is None else picture.pixels
        settings = self.document.video_settings(self.context.device, pixels)
        return settings, self.document.build_effect(pixels)

    # -- gestures: each one is a document change ---------------------------------------------------
    def _on_source_combo_activated(self, index: int) -> None:
        kind = self.source_combo.itemData(index)
        if kind == "file":
            self._on_open_triggered()
        elif kind == "sequence":
            folder = files.ask_folder(self, "video", "Open a folder of numbered images")
            if folder is not None:
                self.set_source("sequence", str(folder))
        else:
            self.set_source(kind)
        self._mirror("source")  # a cancelled dialog leaves the combo on the document's source

    def _on_open_triggered(self, *_args) -> None:
        path = files.ask_open(self, "video", "Open a video", VIDEO_FILTER)
        if path is not None:
            self.open_file(path)
        self._mirror("source")

    def set_source(self, kind: str, path: str = "") -> None:
        """Switch to ``kind`` (demo, camera, file, sequence) as one undo step."""
        name = Path(path).name if path else _plain(_LABELS[kind])
        self.document.set(f"Source: {name}", source=kind, source_path=str(path))

    def open_file(self, path: Path) -> bool:
        """Preview a video file or a folder of images (``studio shot video --open``)."""
        path = Path(path)
        if not path.exists():
            self.status.setText(f"No such file: {path}")
            return False
        self.set_source("sequence" if path.is_dir() else "file", str(path))
        return True

    def current_file(self) -> Path | None:
        doc = self.document
        return Path(doc.source_path) if doc.source == "file" and doc.source_path else None

    def _on_camera_changed(self, *_args) -> None:
        self.document.set(
            "Camera settings",
            merge_key="video.camera",
            camera_index=self.camera_index.value(),
            camera_size=self.camera_size.currentText(),
            camera_fps=self.camera_fps.value(),
        )

    def _on_engine_combo_activated(self, index: int) -> None:
        key = self.engine_combo.itemData(index)
        rvm = self.document.rvm_path
        if key == "rvm":
            path = files.ask_open(
                self, "video-model", "A Robust Video Matting TorchScript file",
                "TorchScript (*.torchscript *.pt *.pth);;All files (*)",
            )  # fmt: skip
            if path is None:
                self._mirror("engine")
                return
            rvm = str(path)
        label = _plain(self.engine_combo.itemText(index))
        self.document.set(f"Person: {label}", engine=key, rvm_path=rvm)

    def _on_refine_box_changed(self, value: float) -> None:
        name = self.sender().property("field")
        title = next(p.title for p in REFINE_PARAMS if p.name == name)
        self.document.set(f"{title} {value:g}", merge_key=f"video.{name}", **{name: value})

    def _on_guided_check_toggled(self, checked: bool) -> None:
        what = "Follow the picture's edges" if checked else "Stop following the edges"
        self.document.set(what, guided=checked)

    def _on_effect_combo_activated(self, index: int) -> None:
        key = self.effect_combo.itemData(index)
        self.set_effect(key)
        self._mirror("effect")

    def _ask_background(self, key: str) -> Path | None:
        caption = "A background picture" if key == "image" else "A background video"
        return files.ask_open(self, "video-background", caption,
                              IMAGE_FILTER if key == "image" else VIDEO_FILTER)  # fmt: skip

    def set_effect(self, key: str, path: str = "") -> None:
        """Choose a background by key (``blur``, ``color``, ``image``...) as one undo step; a
        picture or video background without ``path`` asks for one unless it has one."""
        doc = self.document
        values: dict[str, Any] = {"effect": key}
        if key in ("image", "video"):
            field = f"background_{key}"
            if not path and not doc.get(field):
                chosen = self._ask_background(key)
                if chosen is None:
                    return
                path = str(chosen)
            if path:
                values[field] = str(path)
        self.document.set(f"Background: {_plain(_LABELS[key])}", **values)

    def _on_background_button_clicked(self, _checked: bool = False) -> None:
        key = self.document.effect
        if key in ("image", "video"):
            chosen = self._ask_background(key)
            if chosen is not None:
                self.set_effect(key, str(chosen))

    def _on_strength_box_changed(self, value: float) -> None:
        self.document.set(f"Blur {value:g} px", merge_key="video.strength", strength=value)

    def _on_colour_button_clicked(self, _checked: bool = False) -> None:
        colour = QColorDialog.getColor(QColor(self.document.color), self, "Background colour")
        if colour.isValid():
            self.document.set(f"Background colour {colour.name()}", color=colour.name())

    def _on_view_combo_activated(self, index: int) -> None:
        self.document.set_quiet(view_mode=self.view_combo.itemData(index))

    def _on_frames_box_changed(self, value: int) -> None:
        label = f"Export the first {value} frames" if value else "Export every frame"
        self.document.set(label, merge_key="video.export_frames", export_frames=value)

    def _on_audio_check_toggled(self, checked: bool) -> None:
        self.document.set("Keep the sound" if checked else "Drop the sound", keep_audio=checked)

    def shutdown(self) -> None:
        self._apply_timer.stop()
        self.stop_preview()
