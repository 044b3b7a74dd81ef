"""The Video panel's widgets and their layout: the controls column (source, person, matte,
background, export) and the picture with its transport. Every interactive widget and action is
named ``video.<action>``; the panel connects them and mirrors its document into them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.arrange.send import send_button
from studio.ui.panels.base import named as _named
from studio.ui.panels.base import panel_action as action
from studio.ui.panels.video.widgets import VIEW_MODES, VideoView
from studio.video.document import CAMERA_SIZES

if TYPE_CHECKING:
    from studio.ui.panels.video.panel import VideoPanel

__all__ = ["SOURCES", "ENGINES", "EFFECTS", "VIDEO_FILTER", "EXPORT_FILTER", "build", "action"]

# (key, label, what it is): short labels, so that a combo box never elides them; the longer
# words are the entry's tooltip.
SOURCES = (
    ("demo", "Demo clip", "A photo of a person filmed by a drifting camera: no camera needed"),
    ("camera", "Camera", "A camera attached to this computer"),
    ("file", "Video file…", "A video file"),
    ("sequence", "Image folder…", "A folder of numbered images (an image sequence)"),
)
ENGINES = (
    ("selfie", "MediaPipe selfie", "MediaPipe selfie segmentation: fast, any background"),
    ("mog2", "Still camera", "Background subtraction (MOG2): for a camera that does not move"),
    ("rvm", "RVM model file…", "A Robust Video Matting TorchScript file of your own"),
)
EFFECTS = (
    ("blur", "Blur", "Blur the background"),
    ("color", "Colour", "A plain colour behind the person"),
    ("green", "Green screen", "Chroma-key green behind the person"),
    ("image", "Picture…", "A picture of your own behind the person"),
    ("video", "Video…", "A video of your own behind the person (looped)"),
    ("image-panel", "Image panel", "The Image panel's picture behind the person"),
    ("matte", "Matte only", "The matte as a grey picture"),
    ("alpha", "Transparent", "The person on transparency (ProRes 4444 .mov or PNG sequence)"),
    ("none", "Original", "The frame unchanged"),
)
VIDEO_FILTER = "Video (*.mp4 *.mov *.mkv *.avi *.webm *.m4v);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp)"
EXPORT_FILTER = (
    "MP4 video, H.264 (*.mp4);;QuickTime, ProRes 4444 with alpha for transparency (*.mov);;"
    "Matroska (*.mkv);;PNG sequence (a folder)"
)


def _fill(combo: QComboBox, choices) -> None:
    for row, (key, label, tip) in enumerate(choices):
        combo.addItem(label, key)
        combo.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)


def build(panel: VideoPanel) -> None:
    """Make the panel's widgets (as attributes of ``panel``) and lay them out."""
    from studio.video.refine import REFINE_PARAMS

    p = panel
    # -- source ------------------------------------------------------------------------------------
    p.source_combo = _named(QComboBox(), "video.source", "Where the frames come from")
    _fill(p.source_combo, SOURCES)
    p.open_button = _named(QPushButton("Open video…"), "video.open",
                           "Open a video file as the source (Ctrl+I)")  # fmt: skip
    p.camera_index = _named(QSpinBox(), "video.camera_index", "Which camera (0: the first)")
    p.camera_index.setRange(0, 9)
    p.camera_size = _named(QComboBox(), "video.camera_size", "The camera's picture size")
    p.camera_size.addItems(CAMERA_SIZES)
    p.camera_fps = _named(QSpinBox(), "video.camera_fps", "Frames per second asked of the camera")
    p.camera_fps.setRange(5, 120)
    p.source_label = QLabel()
    p.source_label.setWordWrap(True)
    # -- person ------------------------------------------------------------------------------------
    p.engine_combo = _named(QComboBox(), "video.engine", "What finds the person in each frame")
    _fill(p.engine_combo, ENGINES)
    for ref in p.context.registry.contributions("video_mask"):
        if ref.plugin.name != "studio":  # our own are the entries above
            p.engine_combo.addItem(f"{ref.title} (plugin)", ref.id)
    # -- matte -------------------------------------------------------------------------------------
    p.refine_boxes = {}
    for param in REFINE_PARAMS:
        box = _named(QDoubleSpinBox(), f"video.{param.name}", param.help)
        box.setRange(param.minimum, param.maximum)
        box.setSingleStep(param.step or 0.1)
        box.setDecimals(2)
        box.setKeyboardTracking(False)  # one undo step per value, not per digit typed
        p.refine_boxes[param.name] = box
    p.guided_check = _named(QCheckBox("Follow the picture's edges"), "video.guided",
                            "Refine the matte along the frame's edges (guided filter)")  # fmt: skip
    # -- background --------------------------------------------------------------------------------
    p.effect_combo = _named(QComboBox(), "video.effect", "What happens around the person")
    _fill(p.effect_combo, EFFECTS)
    p.strength_box = _named(QDoubleSpinBox(), "video.strength", "How much the background blurs")
    p.strength_box.setRange(0, 200)
    p.strength_box.setSuffix(" px")
    p.strength_box.setKeyboardTracking(False)
    p.colour_button = _named(QPushButton("Choose colour…"), "video.color",
                             "Choose the background colour")  # fmt: skip
    p.background_button = _named(QPushButton("Choose picture…"), "video.background",
                                 "Choose the background picture or video")  # fmt: skip
    p.effect_label = QLabel()
    p.effect_label.setWordWrap(True)
    # -- view, transport, export -------------------------------------------------------------------
    p.view_combo = _named(QComboBox(), "video.view", "What the picture shows (keys 1 to 4)")
    for i, (key, label) in enumerate(VIEW_MODES, 1):
        p.view_combo.addItem(f"{label}  ({i})", key)
    p.view = _named(VideoView(), "video.picture")
    p.preview_button = _named(QPushButton("Preview"), "video.preview",
                              "Start the preview again from the source (Ctrl+Return)")  # fmt: skip
    p.play_button = _named(QPushButton("Pause"), "video.play", "Play / pause (Space)")
    p.step_button = _named(QPushButton("Step ▶|"), "video.step", "Next frame (. or Right)")
    p.scrub = _named(QSlider(Qt.Orientation.Horizontal), "video.scrub", "Go to a frame")
    p.position_label = QLabel("")
    p.frames_box = _named(QSpinBox(), "video.export_frames",
                          "Export only the first frames, to try the settings (0: all)")  # fmt: skip
    p.frames_box.setRange(0, 1_000_000)
    p.frames_box.setSpecialValueText("All")
    p.frames_box.setKeyboardTracking(False)
    p.audio_check = _named(QCheckBox("Keep the sound"), "video.keep_audio",
                           "Copy the source's sound into the exported video")  # fmt: skip
    p.export_button = _named(QPushButton("Export…"), "video.export",
                             "Export the source through this pipeline (Ctrl+E)")  # fmt: skip
    p.cancel_button = _named(QPushButton("Cancel"), "video.cancel", "Stop the export (Esc)")
    p.cancel_button.setEnabled(False)
    p.send_button = _named(QPushButton("Matte to Image panel"), "video.send_matte",
                           "Hand this frame and its matte to the Image panel as a mask "
                           "(Ctrl+M)")  # fmt: skip
    p.make_progress("Starting the preview…")
    p.narrow_combos(p.source_combo, p.engine_combo, p.effect_combo, p.view_combo)

    left = QWidget()
    lv = QVBoxLayout(left)
    heading = QLabel(
        f"<h3>{p.title}</h3><p>Cut the person out of a camera, a file or an image sequence, "
        "live; export with the same settings.</p>"
    )
    heading.setWordWrap(True)
    lv.addWidget(heading)
    form = QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.addRow("Source", p.source_combo)
    form.addRow(p.open_button)
    camera_row = QHBoxLayout()
    camera_row.setContentsMargins(0, 0, 0, 0)
    for widget in (p.camera_index, p.camera_size, p.camera_fps):
        camera_row.addWidget(widget)
    p.camera_row = QWidget()
    p.camera_row.setLayout(camera_row)
    form.addRow("Camera, size, FPS", p.camera_row)
    form.addRow(p.source_label)
    form.addRow("Person", p.engine_combo)
    for param in REFINE_PARAMS:
        form.addRow(param.title, p.refine_boxes[param.name])
    form.addRow(p.guided_check)
    form.addRow("Background", p.effect_combo)
    form.addRow("Blur strength", p.strength_box)
    form.addRow(p.colour_button)
    form.addRow(p.background_button)
    form.addRow(p.effect_label)
    form.addRow("View", p.view_combo)
    form.addRow("Export frames", p.frames_box)
    form.addRow(p.audio_check)
    lv.addLayout(form)
    p.form = form
    buttons = QHBoxLayout()
    buttons.addWidget(p.export_button)
    buttons.addWidget(p.cancel_button)
    lv.addLayout(buttons)
    lv.addWidget(p.send_button)
    lv.addWidget(send_button(p, "video"))
    lv.addWidget(p.progress)
    lv.addWidget(p.status)
    lv.addStretch(1)

    right = QWidget()
    rv = QVBoxLayout(right)
    rv.addWidget(p.view, 1)
    transport = QHBoxLayout()
    for widget in (p.preview_button, p.play_button, p.step_button):
        transport.addWidget(widget)
    transport.addWidget(p.scrub, 1)
    transport.addWidget(p.position_label)
    rv.addLayout(transport)
    p.lay_out(left, right)
