"""Video panel: a live preview of a camera, a file, an image sequence or the demo clip with the
person cut out, the matte controls and background effects, and export through the same pipeline."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.ui.context import StudioContext
from studio.ui.panels.base import PanelBase
from studio.ui.panels.video.widgets import VIEW_MODES, VideoView

__all__ = ["VideoPanel"]

log = logging.getLogger(__name__)

SOURCES = (
    ("demo", "Demo clip (no camera needed)"),
    ("camera", "Camera"),
    ("file", "Video file…"),
    ("sequence", "Image sequence (folder)…"),
)
ENGINES = (
    ("selfie", "MediaPipe selfie segmentation"),
    ("mog2", "Background subtraction (still camera)"),
    ("rvm", "Robust Video Matting file…"),
)
EFFECTS = (
    ("blur", "Blur the background"),
    ("color", "Colour"),
    ("green", "Green screen"),
    ("image", "Image…"),
    ("video", "Video…"),
    ("image-panel", "The Image panel's picture"),
    ("matte", "Matte only"),
    ("alpha", "Person on transparency"),
    ("none", "Original"),
)
RESOLUTIONS = ("640x480", "1280x720", "1920x1080")
VIDEO_FILTER = "Video (*.mp4 *.mov *.mkv *.avi *.webm *.m4v);;All files (*)"
EXPORT_FILTER = (
    "MP4 video, H.264 (*.mp4);;QuickTime, ProRes 4444 with alpha for transparency (*.mov);;"
    "Matroska (*.mkv);;PNG sequence (a folder)"
)


class VideoPanel(PanelBase):
    panel_id = "video"
    title = "Video"
    cancelled_message = "Export cancelled; nothing was written."

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.session: Any = None
        self.preview_job: Any = None
        self.job = None
        self.last: Any = None  # the newest PreviewFrame shown
        self.source_path = ""
        self.rvm_path = ""
        self.background_path = {"image": "", "video": ""}
        self.colour = QColor(51, 102, 153)
        self._scrubbing = False

        # -- source --------------------------------------------------------------------------------
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("source_combo")
        for key, label in SOURCES:
            self.source_combo.addItem(label, key)
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 9)
        self.camera_size = QComboBox()
        self.camera_size.addItems(RESOLUTIONS)
        self.camera_size.setCurrentText("1280x720")
        self.camera_fps = QSpinBox()
        self.camera_fps.setRange(5, 120)
        self.camera_fps.setValue(30)
        self.source_label = QLabel("The demo: a photo of a person, filmed by a drifting camera.")
        self.source_label.setWordWrap(True)

        # -- person --------------------------------------------------------------------------------
        self.engine_combo = QComboBox()
        self.engine_combo.setObjectName("engine_combo")
        for key, label in ENGINES:
            self.engine_combo.addItem(label, key)
        for ref in context.registry.contributions("video_mask"):
            if ref.plugin.name != "studio":  # our own are the entries above
                self.engine_combo.addItem(f"{ref.title} (plugin)", ref.id)

        # -- matte ---------------------------------------------------------------------------------
        from studio.video.refine import REFINE_PARAMS

        self.refine_boxes: dict[str, QDoubleSpinBox] = {}
        for param in REFINE_PARAMS:
            box = QDoubleSpinBox()
            box.setObjectName(f"{param.name}_box")
            box.setRange(param.minimum, param.maximum)
            box.setSingleStep(param.step or 0.1)
            box.setDecimals(2)
            box.setValue(param.default)
            box.setToolTip(param.help)
            self.refine_boxes[param.name] = box
        self.guided_check = QCheckBox("Follow the picture's edges")
        self.guided_check.setChecked(True)

        # -- background ----------------------------------------------------------------------------
        self.effect_combo = QComboBox()
        self.effect_combo.setObjectName("effect_combo")
        for key, label in EFFECTS:
            self.effect_combo.addItem(label, key)
        self.strength_box = QDoubleSpinBox()
        self.strength_box.setRange(0, 200)
        self.strength_box.setValue(16)
        self.strength_box.setSuffix(" px")
        self.colour_button = QPushButton("Choose colour…")
        self.effect_label = QLabel()
        self.effect_label.setWordWrap(True)

        # -- view, transport, export ---------------------------------------------------------------
        self.view_combo = QComboBox()
        self.view_combo.setObjectName("view_combo")
        for i, (key, label) in enumerate(VIEW_MODES, 1):
            self.view_combo.addItem(f"{label}  ({i})", key)
        self.view = VideoView()
        self.play_button = QPushButton("Pause")
        self.play_button.setObjectName("play_button")
        self.play_button.setToolTip("Play / pause (Space)")
        self.step_button = QPushButton("Step ▶|")
        self.step_button.setToolTip("Next frame (. or Right)")
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setObjectName("scrub_slider")
        self.position_label = QLabel("")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("export_button")
        self.export_button.setToolTip("Export the source through this pipeline (Ctrl+E)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.send_button = QPushButton("Matte to Image panel")
        self.send_button.setToolTip(
            "Hand this frame and its matte to the Image panel as a mask (Ctrl+M)"
        )
        self.make_progress("Starting the preview…")

        left = QWidget()
        lv = QVBoxLayout(left)
        heading = QLabel(
            f"<h3>{self.title}</h3><p>Cut the person out of a camera, a file or an image "
            "sequence, live; export with the same settings.</p>"
        )
        heading.setWordWrap(True)
        lv.addWidget(heading)
        form = QFormLayout()
        form.addRow("Source", self.source_combo)
        camera_row = QHBoxLayout()
        camera_row.addWidget(self.camera_index)
        camera_row.addWidget(self.camera_size)
        camera_row.addWidget(self.camera_fps)
        self.camera_row = QWidget()
        self.camera_row.setLayout(camera_row)
        camera_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Camera, size, FPS", self.camera_row)
        form.addRow(self.source_label)
        form.addRow("Person", self.engine_combo)
        for param in REFINE_PARAMS:
            form.addRow(param.title, self.refine_boxes[param.name])
        form.addRow(self.guided_check)
        form.addRow("Background", self.effect_combo)
        form.addRow("Blur strength", self.strength_box)
        form.addRow(self.colour_button)
        form.addRow(self.effect_label)
        form.addRow("View", self.view_combo)
        lv.addLayout(form)
        self.form = form
        self.narrow_combos(self.source_combo, self.engine_combo, self.effect_combo, self.view_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        lv.addLayout(buttons)
        lv.addWidget(self.send_button)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        lv.addStretch(1)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.view, 1)
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.step_button)
        transport.addWidget(self.scrub, 1)
        transport.addWidget(self.position_label)
        rv.addLayout(transport)
        self.lay_out(left, right)

        self.source_combo.activated.connect(self._on_source_combo_activated)
        for widget in (self.camera_index, self.camera_fps):
            widget.valueChanged.connect(self._on_camera_changed)
        self.camera_size.currentIndexChanged.connect(self._on_camera_changed)
        self.engine_combo.activated.connect(self._on_engine_combo_activated)
        for box in self.refine_boxes.values():
            box.valueChanged.connect(self._on_settings_changed)
        self.guided_check.toggled.connect(self._on_settings_changed)
        self.effect_combo.activated.connect(self._on_effect_combo_activated)
        self.strength_box.valueChanged.connect(self._on_settings_changed)
        self.colour_button.clicked.connect(self.choose_colour)
        self.view_combo.currentIndexChanged.connect(self._on_view_combo_changed)
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step)
        self.scrub.sliderPressed.connect(self._on_scrub_pressed)
        self.scrub.sliderReleased.connect(self._on_scrub_released)
        self.scrub.valueChanged.connect(self._on_scrub_moved)
        self.export_button.clicked.connect(self.export)
        self.cancel_button.clicked.connect(self.cancel)
        self.send_button.clicked.connect(self.send_matte)
        self.add_shortcuts(
            (
                ("Space", self.toggle_play),
                ("Right", self.step),
                (".", self.step),
                ("Ctrl+E", self.export),
                ("Ctrl+M", self.send_matte),
                ("Escape", self.cancel),
            )
            + tuple(
                (str(i), lambda i=i: self.view_combo.setCurrentIndex(i - 1)) for i in (1, 2, 3, 4)
            )
        )
        self._update_controls()

    # -- what the controls say ---------------------------------------------------------------------
    @property
    def source_kind(self) -> str:
        return self.source_combo.currentData()

    def source_spec(self) -> str:
        kind = self.source_kind
        if kind == "camera":
            return f"camera:{self.camera_index.value()}"
        if kind in ("file", "sequence"):
            return self.source_path
        return "demo"

    def source_options(self) -> dict[str, Any]:
        if self.source_kind == "camera":
            width, height = (int(v) for v in self.camera_size.currentText().split("x"))
            return {"width": width, "height": height, "fps": self.camera_fps.value()}
        if self.source_kind == "demo":
            return {"width": 1280, "height": 720, "frames": 240, "fps": 30.0}
        return {}

    def engine(self) -> str:
        key = self.engine_combo.currentData()
        return self.rvm_path if key == "rvm" else key

    def refine_settings(self):
        from studio.video.refine import RefineSettings

        values = {name: box.value() for name, box in self.refine_boxes.items()}
        return RefineSettings(guided=self.guided_check.isChecked(), **values)

    def effect(self):
        """The Effect the controls describe; raises EffectError when it lacks its picture."""
        from studio.video.effects import Effect, EffectError, parse_effect

        key = self.effect_combo.currentData()
        if key == "blur":
            return Effect("blur", strength=self.strength_box.value())
        if key == "color":
            return Effect("color", color=self.colour.getRgb()[:3])
        if key in ("image", "video"):
            if not self.background_path[key]:
                raise EffectError(f"choose the background {key} first")
            return parse_effect(f"{key}:{self.background_path[key]}")
        if key == "image-panel":
            picture = self.context.shared.get("image.current")
            if picture is None:
                raise EffectError("the Image panel has no picture yet")
            return Effect("image", image=np.asarray(picture.pixels))
        return Effect(key)

    def video_settings(self):
        from studio.video.pipeline import VideoSettings

        return VideoSettings(
            engine=self.engine(),
            effect=self.effect().spec(),
            refine=self.refine_settings(),
            device=self.context.device,
        )

    def _update_controls(self) -> None:
        kind = self.source_kind
        self.form.setRowVisible(self.camera_row, kind == "camera")
        effect = self.effect_combo.currentData()
        self.form.setRowVisible(self.strength_box, effect == "blur")
        self.form.setRowVisible(self.colour_button, effect == "color")
        live = kind == "camera"
        self.export_button.setEnabled(not live and not (self.job and not self.job.done))
        self.export_button.setToolTip(
            "A camera is previewed, not exported: record it first"
            if live
            else "Export the source through this pipeline (Ctrl+E)"
        )
        self.scrub.setEnabled(not live)
        self.step_button.setEnabled(not live)
        if effect in ("image", "video"):
            path = self.background_path[effect]
            self.effect_label.setText(Path(path).name if path else f"No {effect} chosen.")
        elif effect == "image-panel":
            has = self.context.shared.get("image.current") is not None
            self.effect_label.setText("" if has else "The Image panel has no picture yet.")
        elif effect == "color":
            self.effect_label.setText(f"Colour {self.colour.name()}")
        else:
            self.effect_label.setText("")
        self.form.setRowVisible(self.effect_label, bool(self.effect_label.text()))

    # -- preview -----------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        from PySide6.QtWidgets import QDockWidget

        dock = self.parentWidget()
        if isinstance(dock, QDockWidget) and not getattr(self, "_watching_dock", False):
            # a tabbed dock behind another stays "visible" to Qt: follow its tab instead
            self._watching_dock = True
            dock.visibilityChanged.connect(self._on_dock_visibility_changed)
        if self._seen() and (self.preview_job is None or self.preview_job.done):
            self.start_preview()

    def _seen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _on_dock_visibility_changed(self, visible: bool) -> None:
        if visible and (self.preview_job is None or self.preview_job.done):
            self.start_preview()
        elif not visible:
            self.stop_preview()  # frees the camera and the CPU while the panel is not seen

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self.stop_preview()

    def start_preview(self) -> None:
        """(Re)start the preview with the current source, engine and settings."""
        from studio.video.effects import EffectError
        from studio.video.preview import PreviewSession

        self.stop_preview()
        try:
            settings = self.video_settings()
            self.effect()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        if self.source_kind in ("file", "sequence") and not self.source_path:
            self.view.show_message("Choose a video file or an image folder.")
            return
        self.session = PreviewSession(
            self.source_spec(),
            settings,
            self.source_options(),
            registry=self.context.registry,
            effect=self.effect(),
        )
        self.preview_job = self.context.runner.submit(
            JobSpec(
                title="Video: preview",
                fn=self.session.run,
                family="video-preview",
                key="video.preview",
            )
        )
        self.preview_job.partial.connect(self._on_preview_partial)
        self.preview_job.failed.connect(self._on_preview_failed)
        self.play_button.setText("Pause")
        self.status.setText(f"Previewing {self._source_name()}…")

    def stop_preview(self) -> None:
        if self.preview_job is not None and not self.preview_job.done:
            self.preview_job.cancel()
        self.preview_job = None
        self.session = None

    def _source_name(self) -> str:
        spec = self.source_spec()
        return Path(spec).name if self.source_kind in ("file", "sequence") else spec

    def _on_preview_partial(self, session) -> None:
        if session is not self.session:
            return
        frame = session.take()
        if frame is None:
            return
        self.show_processed(frame.processed, frame)

    def show_processed(self, processed, info=None) -> None:
        """Draw a processed frame (from the preview or an export) with its numbers."""
        self.last = processed
        stats = ""
        if info is not None:
            stats = f"{info.fps:4.1f} FPS · {info.latency_ms:4.0f} ms"
            if info.dropped:
                stats += f" · {info.dropped} dropped"
            count = info.frame_count
            if count and not self._scrubbing:
                self.scrub.blockSignals(True)
                self.scrub.setRange(0, max(0, count - 1))
                self.scrub.setValue(info.position)
                self.scrub.blockSignals(False)
            self.position_label.setText(
                f"{info.position + 1} / {count}" if count else f"frame {info.position + 1}"
            )
            if info.ended:
                self.play_button.setText("Play")
        self.view.show_frame(processed.frame.pixels, processed.matte, processed.output, stats)

    def _on_preview_failed(self, message: str, _traceback: str) -> None:
        if self.sender() is not self.preview_job:
            return
        self.view.show_message(f"{message}\n\nChoose another source.")
        self.status.setText(message)

    def toggle_play(self) -> None:
        if self.session is None:
            self.start_preview()
            return
        if self.session.playing:
            self.session.pause()
            self.play_button.setText("Play")
        else:
            self.session.play()
            self.play_button.setText("Pause")

    def step(self) -> None:
        if self.session is not None and self.source_kind != "camera":
            self.session.step()
            self.play_button.setText("Play")

    def _on_scrub_pressed(self) -> None:
        self._scrubbing = True
        if self.session is not None:
            self.session.pause()
            self.play_button.setText("Play")

    def _on_scrub_released(self) -> None:
        self._scrubbing = False
        if self.session is not None:
            self.session.seek(self.scrub.value())

    def _on_scrub_moved(self, value: int) -> None:
        if self.session is not None:
            self.session.seek(value)

    # -- reacting to the controls ------------------------------------------------------------------
    def _on_source_combo_activated(self, _index: int) -> None:
        kind = self.source_kind
        if kind == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Open a video", "", VIDEO_FILTER)
            if not path:
                return
            self.set_source("file", path)
            return
        if kind == "sequence":
            path = QFileDialog.getExistingDirectory(self, "Open a folder of numbered images")
            if not path:
                return
            self.set_source("sequence", path)
            return
        self.set_source(kind)

    def set_source(self, kind: str, path: str = "") -> None:
        """Switch to ``kind`` (demo, camera, file, sequence) and restart the preview."""
        self.source_combo.setCurrentIndex(self.source_combo.findData(kind))
        self.source_path = path
        texts = {
            "demo": "The demo: a photo of a person, filmed by a drifting camera.",
            "camera": "A camera: the newest frame is always shown; late frames are dropped.",
        }
        self.source_label.setText(texts.get(kind, Path(path).name))
        self._update_controls()
        if self._seen():
            self.start_preview()

    def current_file(self) -> Path | None:
        return Path(self.source_path) if self.source_kind == "file" and self.source_path else None

    def open_file(self, path: Path) -> bool:
        """Preview a video file or a folder of images (``studio shot video --open``)."""
        path = Path(path)
        if not path.exists():
            self.status.setText(f"No such file: {path}")
            return False
        self.set_source("sequence" if path.is_dir() else "file", str(path))
        return True

    def _on_camera_changed(self, *_args) -> None:
        if self.source_kind == "camera" and self._seen():
            self.start_preview()

    def _on_engine_combo_activated(self, _index: int) -> None:
        if self.engine_combo.currentData() == "rvm":
            path, _ = QFileDialog.getOpenFileName(
                self, "A Robust Video Matting TorchScript file", "",
                "TorchScript (*.torchscript *.pt *.pth);;All files (*)",
            )  # fmt: skip
            if not path:
                self.engine_combo.setCurrentIndex(0)
                return
            self.rvm_path = path
        if self._seen():
            self.start_preview()

    def _on_effect_combo_activated(self, _index: int) -> None:
        key = self.effect_combo.currentData()
        if key in ("image", "video") and not self.background_path[key]:
            caption = "A background picture" if key == "image" else "A background video"
            filters = (
                "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp)"
                if key == "image"
                else VIDEO_FILTER
            )
            path, _ = QFileDialog.getOpenFileName(self, caption, "", filters)
            if not path:
                self.effect_combo.setCurrentIndex(0)
            else:
                self.background_path[key] = path
        self._on_settings_changed()

    def set_effect(self, key: str, path: str = "") -> None:
        """Choose an effect by key (``blur``, ``color``, ``image``...) without a dialog."""
        if path:
            self.background_path[key] = path
        self.effect_combo.setCurrentIndex(self.effect_combo.findData(key))
        self._on_settings_changed()

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.colour, self, "Background colour")
        if colour.isValid():
            self.colour = colour
            self._on_settings_changed()

    def _on_settings_changed(self, *_args) -> None:
        from studio.video.effects import EffectError

        self._update_controls()
        if self.session is None:
            return
        try:
            effect = self.effect()
            refine = self.refine_settings()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.session.configure(refine=refine, effect=effect)

    def _on_view_combo_changed(self, _index: int) -> None:
        self.view.set_mode(self.view_combo.currentData())

    # -- export ------------------------------------------------------------------------------------
    def export(self) -> None:
        if self.source_kind == "camera" or (self.job and not self.job.done):
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export", "", EXPORT_FILTER)
        if not path:
            return
        fmt = "png" if chosen.startswith("PNG") else "auto"
        if fmt == "auto" and not Path(path).suffix:
            path += ".mov" if self.effect_combo.currentData() == "alpha" else ".mp4"
        self.export_to(path, fmt)

    def export_to(self, path: str | Path, fmt: str = "auto"):
        """Export the current source with the current settings to ``path``; returns the job."""
        from studio.video.effects import EffectError
        from studio.video.export import export_video

        if self.source_kind in ("file", "sequence") and not self.source_path:
            self.status.setText("Choose a source to export first.")
            return None
        try:
            settings = self.video_settings()
            effect = self.effect()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return None
        if self.session is not None:  # the CPU goes to the export; the preview waits
            self.session.pause()
            self.play_button.setText("Play")
        source = self.source_spec()
        options = self.source_options()
        registry = self.context.registry

        def work(_request, ctx):
            from studio.video.pipeline import VideoPipeline
            from studio.video.sources import open_source

            src = open_source(source, **options)
            pipeline = VideoPipeline(settings, registry=registry, effect=effect)
            return export_video(src, path, settings, ctx, fmt=fmt, pipeline=pipeline)

        handle = self.start_job(
            JobSpec(title=f"Video: export {Path(path).name}", fn=work,
                    family="video-export", key="video.export")
        )  # fmt: skip
        self.export_button.setEnabled(False)
        return handle

    def _on_job_partial(self, processed) -> None:
        if self._is_current() and hasattr(processed, "matte"):
            self.show_processed(processed)

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        if result.path.is_file():
            self.remember_saved(result.path, {"engine": "studio/video", "encoder": result.encoder})
        sound = ", sound kept" if result.audio_kept else ""
        text = (
            f"Exported {result.frames} frames to {result.path.name} in {result.seconds:.1f} s "
            f"({result.fps:.1f} FPS, {result.encoder}{sound})."
        )
        for warning in result.warnings:
            text += f"\n⚠ {warning}"
        self.status.setText(text)
        self._update_controls()

    def _on_job_failed(self, message: str, _traceback: str) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.status.setText(f"Export failed: {message}")
        self._update_controls()

    def _on_job_cancelled(self) -> None:
        super()._on_job_cancelled()
        self._update_controls()

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    # -- handing over to other panels --------------------------------------------------------------
    def send_matte(self) -> None:
        """Publish the shown frame and its matte for the Image panel (``video.frame``,
        ``video.matte``)."""
        from studio.core.media import Image, Mask

        if self.last is None:
            self.status.setText("No frame to send yet.")
            return
        provenance = {"engine": self.engine(), "source": self._source_name(),
                      "frame": self.last.frame.index}  # fmt: skip
        self.context.shared["video.frame"] = Image(self.last.frame.pixels.copy(), provenance)
        self.context.shared["video.matte"] = Mask(self.last.matte.copy(), dict(provenance))
        self.status.setText(
            f"Frame {self.last.frame.index + 1} and its matte are ready in the Image panel."
        )

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Process events until the preview shows a picture (for ``studio shot``)."""
        import time

        from PySide6.QtWidgets import QApplication

        deadline = time.monotonic() + timeout
        while self.last is None and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        return self.last is not None

    def shutdown(self) -> None:
        self.stop_preview()
