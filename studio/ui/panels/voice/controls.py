"""The Voice panel's widgets and their layout: the Speak and Sing tabs (a scrolling controls
column beside the text or the melody), the takes column, and the bottom row. The panel wires
them to its document; nothing here holds content."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.arrange.send import send_button
from studio.ui.panels.voice.widgets import MelodyView, SsmlHighlighter, TextEdit, WaveformView
from studio.ui.widgets.param_form import ParamForm
from studio.voice.sing import SING_PARAMS
from studio.voice.speech import SPEECH_PARAMS

if TYPE_CHECKING:
    from studio.ui.panels.voice.panel import VoicePanel

__all__ = ["build", "SPINS", "SPIN_ATTRS", "ENGINES", "MARKUP"]

# (setting, params, decimals, suffix, label); the panel attribute is SPIN_ATTRS[setting] or it
SPINS = (
    ("rate", SPEECH_PARAMS, 2, " ×", "Rate"),
    ("pitch", SPEECH_PARAMS, 1, " st", "Pitch"),
    ("volume", SPEECH_PARAMS, 2, "", "Volume"),
    ("sentence_pause", SPEECH_PARAMS, 2, " s", "Sentence pause"),
    ("variation", SPEECH_PARAMS, 1, "", "Variation"),
    ("vibrato_depth", SING_PARAMS, 0, " cents", "Vibrato"),
    ("vibrato_rate", SING_PARAMS, 1, " Hz", "Vibrato rate"),
    ("glide", SING_PARAMS, 2, " s", "Glide"),
    ("transpose", SING_PARAMS, 0, " st", "Transpose"),
)
SPEAK_SPINS = ("rate", "pitch", "volume", "sentence_pause", "variation")
# The voice list's engine filter: (setting value, label).
ENGINES = (
    ("", "All engines"),
    ("piper", "Piper (neural)"),
    ("espeak", "eSpeak NG (instant)"),
    ("plugin", "Plugins"),
)
# How the text is read: (document's ssml value, label).
MARKUP = ((None, "Auto"), (False, "Plain text"), (True, "SSML"))
SPIN_ATTRS = {"sentence_pause": "pause", "vibrato_depth": "vibrato"}  # short attribute names


def _spin(params, name: str, decimals: int, suffix: str) -> QDoubleSpinBox | QSpinBox:
    param = next(p for p in params if p.name == name)
    box: QDoubleSpinBox | QSpinBox
    if param.type == "int":
        box = QSpinBox()
        box.setRange(int(param.minimum or 0), int(param.maximum or 0))
    else:
        box = QDoubleSpinBox()
        box.setRange(param.minimum, param.maximum)
        box.setSingleStep(param.step or 0.1)
        box.setDecimals(decimals)
    box.setValue(param.default)
    box.setToolTip(param.help or param.title)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)  # typing "1.25" is one step, not three
    box.setObjectName(f"voice.{name}")
    return box


def _button(text: str, name: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(f"voice.{name}")
    button.setToolTip(tip)
    return button


def _column(controls: QWidget, button: QPushButton) -> QWidget:
    """The controls scroll instead of clipping when the window is small; the button that uses
    them stays in sight below."""
    scroll = QScrollArea()
    scroll.setWidget(controls)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    column = QWidget()
    column.setMinimumWidth(310)
    column.setMaximumWidth(360)
    v = QVBoxLayout(column)
    v.setContentsMargins(0, 0, 0, 0)
    v.addWidget(scroll, 1)
    v.addWidget(button)
    return column


def _wrapping(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    if name:
        label.setObjectName(name)
    return label


def build(panel: VoicePanel) -> None:
    """Make the panel's widgets (as its attributes) and lay them out."""
    p = panel
    for name, params, decimals, suffix, _label in SPINS:
        setattr(p, SPIN_ATTRS.get(name, name), _spin(params, name, decimals, suffix))
    p.variation.setToolTip("Piper only: 0 flat and even, 1 the voice's default, 2 lively")

    # -- speak tab --
    p.engine_combo = QComboBox()
    p.engine_combo.setObjectName("voice.engine")
    p.engine_combo.setToolTip("Which voices the list shows: Piper, eSpeak NG, plugins or all")
    for value, label in ENGINES:
        p.engine_combo.addItem(label, value)
    p.voice_combo = QComboBox()
    p.voice_combo.setObjectName("voice.voice")
    p.voice_combo.setToolTip("The voice that speaks and sings")
    p.voice_combo.setMaxVisibleItems(20)
    p.narrow_combos(p.engine_combo, p.voice_combo)
    p.voice_note = _wrapping(name="voice.voice_note")
    p.voice_note.setTextFormat(Qt.TextFormat.RichText)
    p.markup_combo = QComboBox()
    p.markup_combo.setObjectName("voice.ssml")
    p.markup_combo.setToolTip(
        "Read the text as SSML (tags for pauses, emphasis, prosody) or as plain text; Auto: SSML "
        "when it starts with <speak>"
    )
    for _value, label in MARKUP:
        p.markup_combo.addItem(label)
    p.narrow_combos(p.markup_combo)
    p.plugin_form = ParamForm()
    p.plugin_form.setObjectName("voice.plugin_form")
    p.plugin_form.setVisible(False)
    p.speak_button = _button("Speak", "speak", "Speak the text, or the selection (Ctrl+Return)")
    p.speak_button.setDefault(True)
    p.editor = TextEdit()
    p.editor.setObjectName("voice.text")
    p.editor.setToolTip("The text to speak: plain text or SSML (<speak>…</speak>)")
    p.editor.setPlaceholderText("Type text or SSML (<speak>…</speak>) here.")
    p.highlighter = SsmlHighlighter(p.editor.document())
    p.waveform = WaveformView()

    speak_left = QWidget()
    form = QFormLayout(speak_left)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.addRow("Engine", p.engine_combo)
    form.addRow("Voice", p.voice_combo)
    form.addRow(p.voice_note)
    form.addRow("Markup", p.markup_combo)
    for name in SPEAK_SPINS:
        label = next(s[4] for s in SPINS if s[0] == name)
        form.addRow(label, getattr(p, SPIN_ATTRS.get(name, name)))
    form.addRow(p.plugin_form)
    speak_right = QSplitter(Qt.Orientation.Vertical)
    speak_right.addWidget(p.editor)
    speak_right.addWidget(p.waveform)
    speak_right.setChildrenCollapsible(False)
    speak_right.setStretchFactor(0, 3)
    speak_right.setStretchFactor(1, 1)
    speak_right.setSizes([3000, 1000])  # the text gets most of the height, at any size

    # -- sing tab --
    p.from_music_button = _button(
        "Use the Music panel's melody", "from_music",
        "Sing the notes now in the Music panel (they are copied: later edits there don't change "
        "them)",
    )  # fmt: skip
    p.open_midi_button = _button("Open MIDI…", "open_midi", "Sing the melody of a MIDI file")
    p.melody_label = _wrapping("No melody yet.", "voice.melody_name")
    p.track_combo = QComboBox()
    p.track_combo.setObjectName("voice.track")
    p.track_combo.setToolTip("The track (MIDI channel) whose notes are sung")
    p.narrow_combos(p.track_combo)
    p.accompaniment = QCheckBox("Mix the other tracks under the voice")
    p.accompaniment.setObjectName("voice.accompaniment")
    p.accompaniment.setToolTip("Render the melody's other tracks under the voice (SoundFont)")
    p.sing_button = _button("Sing", "sing", "Sing the melody with the lyrics (Ctrl+Return)")
    p.lyrics = TextEdit()
    p.lyrics.setObjectName("voice.lyrics")
    p.lyrics.setMaximumHeight(110)
    p.lyrics.setToolTip(
        "Spaces separate words; a hyphen splits syllables (hap-py); _ holds the last "
        "syllable over one more note. Extra syllables are left out; notes without one "
        "are sung on 'la'."
    )
    p.melody_view = MelodyView()

    sing_left = QWidget()
    sf = QFormLayout(sing_left)
    sf.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    sf.addRow(p.from_music_button)
    sf.addRow(p.open_midi_button)
    sf.addRow(p.melody_label)
    sf.addRow("Track", p.track_combo)
    sf.addRow(_wrapping("Sung by the voice picked on the Speak tab (a Piper voice sings best)."))
    for name in ("vibrato_depth", "vibrato_rate", "glide", "transpose"):
        label = next(s[4] for s in SPINS if s[0] == name)
        sf.addRow(label, getattr(p, SPIN_ATTRS.get(name, name)))
    sf.addRow(p.accompaniment)
    sing_right = QWidget()
    gv = QVBoxLayout(sing_right)
    gv.setContentsMargins(0, 0, 0, 0)
    gv.addWidget(QLabel("Lyrics"))
    gv.addWidget(p.lyrics)
    gv.addWidget(p.melody_view, 1)

    p.tabs = QTabWidget()
    p.tabs.setObjectName("voice.mode")
    p.tabs.tabBar().setUsesScrollButtons(False)
    for left, button, right, title in (
        (speak_left, p.speak_button, speak_right, "Speak"),
        (sing_left, p.sing_button, sing_right, "Sing"),
    ):
        tab = QWidget()
        h = QHBoxLayout(tab)
        h.setContentsMargins(4, 4, 4, 4)
        h.addWidget(_column(left, button))
        h.addWidget(right, 1)
        p.tabs.addTab(tab, title)

    # -- takes --
    p.takes_list = QListWidget()
    p.takes_list.setObjectName("voice.takes")
    p.takes_list.setToolTip(
        "Every spoken and sung result. Pick one to see, play or export it; double-click to "
        "rename it."
    )
    p.takes_list.setEditTriggers(
        QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
    )
    p.takes_list.setWordWrap(True)
    p.play_button = _button("Play", "play", "Play the selected take (Space in the takes list)")
    p.delete_take_button = _button("Delete", "delete_take", "Delete the selected take (undoable)")
    p.export_button = _button(
        "Export…", "export",
        "Write the selected take as WAV, FLAC or OGG with its text in the metadata (Ctrl+E)",
    )  # fmt: skip
    takes = QWidget()
    tv = QVBoxLayout(takes)
    tv.setContentsMargins(4, 4, 4, 4)
    tv.addWidget(QLabel("Takes"))
    tv.addWidget(p.takes_list, 1)
    row = QHBoxLayout()
    row.addWidget(p.play_button)
    row.addWidget(p.delete_take_button)
    tv.addLayout(row)
    tv.addWidget(p.export_button)
    tv.addWidget(send_button(p, "voice"))
    takes.setMinimumWidth(190)

    # -- bottom row --
    p.make_progress("Pick a voice, type, and press Speak (Ctrl+Return).")
    p.cancel_button = _button("Stop", "stop", "Stop speaking, singing or playing (Esc)")
    p.cancel_button.setEnabled(False)
    p.import_button = _button(
        "Import…", "import", "Open a text or SSML file as the text, or a MIDI melody (Ctrl+I)"
    )
    p.transcribe_button = _button(
        "Transcribe…", "transcribe",
        "Speech from a recording, by a transcriber plugin: into the text to speak, or into "
        "the lyrics on the Sing tab (undoable)",
    )  # fmt: skip

    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(p.tabs)
    splitter.addWidget(takes)
    splitter.setChildrenCollapsible(False)
    splitter.setStretchFactor(0, 1)
    splitter.setSizes([800, 230])
    outer = QVBoxLayout(p)
    outer.setContentsMargins(4, 4, 4, 4)
    outer.addWidget(splitter, 1)
    bottom = QHBoxLayout()
    for widget in (p.cancel_button, p.import_button, p.transcribe_button):
        bottom.addWidget(widget)
    bottom.addWidget(p.progress, 1)
    outer.addLayout(bottom)
    outer.addWidget(p.status)
