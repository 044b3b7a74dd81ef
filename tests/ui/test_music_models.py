"""The Music panel's model picker and the families' modes, clicked like an artist does, on tiny
untrained VAE and GAN models made here (never the corpus): the picker names each family and shows
its modes only, Interpolate between two takes, Variations with the How far slider, a drum groove
under the clip, each one undo step; then Train on my MIDI folder… trains a tiny model that lands
in the model folder with its card and appears in the picker."""

import shutil
import tomllib

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QPushButton, QSlider, QToolButton

torch = pytest.importorskip("torch")

from studio.core.media import DRUM_CHANNEL, MidiClip, Note  # noqa: E402
from studio.ui.dialogs import files  # noqa: E402
from tests.support.music_clips import melody  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def band(bars: int = 8) -> MidiClip:
    clip = melody(bars, step=0.5)
    notes = list(clip.notes)
    for b in range(bars):
        notes.append(Note(b * 4.0, 40, 2.0, 90, 1))
        for e in range(8):
            notes.append(Note(b * 4.0 + e * 0.5, 42, 0.25, 80, DRUM_CHANNEL))
        notes.append(Note(b * 4.0, 36, 0.25, 100, DRUM_CHANNEL))
    return MidiClip(sorted(notes), bpm=120.0, programs={0: 73, 1: 33}, length=bars * 4.0)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny LSTM, VAE and GAN, trained 4 steps and exported with their cards."""
    from studio.music.cli import export_family
    from studio.music.families.trainer import PRESETS, FamilyTrainConfig, train_family
    from studio.music.tokens import MusicTokenizer

    tok = MusicTokenizer()
    pieces = []
    for i in range(6):
        p = tok.encode_clip(band(8) if i % 2 else melody(8, shift=i), style="user")
        p.piece_id = f"freedoom/test{i}.mid"
        pieces.append(p)
    tmp = tmp_path_factory.mktemp("music-models")
    out = {}
    for arch in ("lstm", "vae", "gan"):
        cfg = FamilyTrainConfig(arch=arch, **{**PRESETS[arch]["tiny"], "steps": 4})
        train_family(cfg, pieces[:4], pieces[4:], tmp / arch, device="cpu", resume=False)
        out[arch] = export_family(tmp / arch / "checkpoint.pt", tmp / f"tiny-{arch}.safetensors",
                                  f"tiny-{arch}", "test", pieces)  # fmt: skip
    return out


@pytest.fixture
def panel(window, context, tiny_models):
    from studio.core.models import CARD_SUFFIX

    folder = context.settings.models_dir() / "music"
    folder.mkdir(parents=True, exist_ok=True)
    for path in tiny_models.values():
        shutil.copy2(path, folder / path.name)
        shutil.copy2(path.with_name(path.name + CARD_SUFFIX), folder / (path.name + CARD_SUFFIX))
    window.raise_panel("music")
    panel = window.panels["music"]
    panel.refresh_models()
    return panel


def choose(panel, text_start: str) -> None:
    combo = panel.findChild(QComboBox, "music.model")
    index = next(i for i in range(combo.count()) if combo.itemText(i).startswith(text_start))
    combo.setCurrentIndex(index)  # what picking the item does


def click(panel, name: str) -> None:
    button = panel.findChild(QToolButton, name)
    assert button is not None and button.isVisible() and button.isEnabled(), name
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_job(qtbot, panel, label: str) -> None:
    """Wait until the job's result is applied as the undo step ``label`` (or it failed)."""
    assert panel.job is not None, panel.status.text()
    doc = panel.document
    qtbot.waitUntil(
        lambda: doc.undo_stack.undo_text() == label or panel.status.text().startswith("⚠"),
        timeout=60000,
    )
    assert not panel.status.text().startswith("⚠"), panel.status.text()


def test_the_picker_names_each_family_and_shows_its_modes(panel, monkeypatch):
    combo = panel.findChild(QComboBox, "music.model")
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "VAE: tiny-vae (user)" in texts and "GAN: tiny-gan (user)" in texts
    assert "LSTM: tiny-lstm (user)" in texts
    for path in (panel.context.settings.models_dir() / "music").glob("tiny-lstm*"):
        path.unlink()
    # an installation without the shipped LSTM either: the family has no model at all
    store = panel.context.store
    scan = store.scan
    monkeypatch.setattr(
        store, "scan", lambda *a, **k: [e for e in scan(*a, **k) if e.name != "studio-music-lstm"]
    )
    panel.refresh_models()
    texts = [combo.itemText(i) for i in range(combo.count())]
    lstm = texts.index("LSTM: no model yet")
    assert not combo.model().item(lstm).isEnabled()
    assert "Train on my MIDI folder" in combo.itemData(lstm, Qt.ItemDataRole.ToolTipRole)
    choose(panel, "VAE: tiny-vae")
    doc = panel.document
    assert (doc.family, doc.model) == ("vae", "VAE: tiny-vae (user)")
    shown = {n for n in ("generate", "continue", "infill", "harmonize", "interpolate",
                         "vary", "attribute", "groove")
             if panel.findChild(QToolButton, f"music.{n}").isVisible()}  # fmt: skip
    assert shown == {"generate", "interpolate", "vary", "attribute"}
    choose(panel, "GAN: tiny-gan")
    assert doc.family == "gan"
    assert panel.findChild(QToolButton, "music.groove").isVisible()
    assert not panel.findChild(QToolButton, "music.interpolate").isVisible()
    assert panel.findChild(QComboBox, "music.groove_style").isVisible()


def test_interpolate_variations_and_groove_are_one_undo_step_each(qtbot, panel):
    doc = panel.document
    doc.apply_generation("Two takes", [melody(4), melody(4, shift=7, step=0.5)])
    choose(panel, "VAE: tiny-vae")
    a, b = (panel.findChild(QComboBox, f"music.interp_{x}") for x in "ab")
    a.setCurrentIndex(a.findData(0))
    b.setCurrentIndex(b.findData(1))
    texts = [b.itemText(i) for i in range(b.count())]  # the takes are listed by name
    assert texts == ["the clip", "take 1", "take 2", "a MIDI file…"]
    panel.controls.interp_steps.setValue(3)
    click(panel, "music.interpolate")
    wait_job(qtbot, panel, "Interpolate take 1 to take 2 in 3 steps")
    assert len(doc.takes) == 4  # the whole morph, then each of the 3 steps
    assert doc.clip.bars >= 3 * 4 - 1e-6  # the steps one after another
    assert doc.undo_stack.undo_text() == "Interpolate take 1 to take 2 in 3 steps"
    doc.undo()
    assert len(doc.takes) == 2 and doc.clip == doc.takes[0]

    slider = panel.findChild(QSlider, "music.amount")
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key.Key_End)  # as far as it goes
    assert doc.amount == 1.0 and panel.controls.amount_label.text() == "1.00"
    panel.controls.variations.setValue(3)
    before = doc.clip
    click(panel, "music.vary")
    wait_job(qtbot, panel, "Variations (how far 1.00)")
    assert len(doc.takes) == 3
    assert doc.undo_stack.undo_text() == "Variations (how far 1.00)"
    doc.undo()
    assert doc.clip == before

    density = panel.findChild(QSlider, "music.density")
    density.setFocus()
    QTest.keyClick(density, Qt.Key.Key_Home)  # fewest notes
    assert doc.density == -2.0 and panel.controls.density_label.text() == "-2.0"
    click(panel, "music.attribute")
    wait_job(qtbot, panel, "Density -2.0")
    assert doc.clip.provenance_dict().get("amount") == -2.0
    doc.undo()
    assert doc.clip == before

    choose(panel, "GAN: tiny-gan")
    assert panel.findChild(type(panel.controls.groove_under), "music.groove_under").isChecked()
    melody_notes = set(doc.clip.notes)
    click(panel, "music.groove")
    wait_job(qtbot, panel, "Drum groove (groove)")
    assert melody_notes <= set(doc.clip.notes)  # the melody kept exactly
    assert any(n.channel == DRUM_CHANNEL for n in doc.clip.notes)  # with drums under it
    assert doc.undo_stack.undo_text() == "Drum groove (groove)"
    doc.undo()
    assert set(doc.clip.notes) == melody_notes

    # not under the music: drums, bass and chords for Bars bars, added as tracks of their own
    panel.findChild(QCheckBox, "music.groove_under").click()
    assert doc.groove_under is False
    panel.controls.bars.setValue(4)
    click(panel, "music.groove")
    wait_job(qtbot, panel, "Drum groove (groove)")
    added = set(doc.clip.notes) - melody_notes
    assert melody_notes <= set(doc.clip.notes) and added
    assert not {n.channel for n in added} & {n.channel for n in melody_notes if n.channel != 9}
    assert max(n.start for n in added) < 4 * 4.0


def test_interpolate_between_two_midi_files(qtbot, panel, tmp_path):
    doc = panel.document
    (tmp_path / "a.mid").write_bytes(melody(2).to_bytes())
    (tmp_path / "b.mid").write_bytes(melody(2, shift=5, step=0.5).to_bytes())
    choose(panel, "VAE: tiny-vae")
    for end, name in (("a", "a.mid"), ("b", "b.mid")):
        combo = panel.findChild(QComboBox, f"music.interp_{end}")
        files.answer_next(tmp_path / name)
        combo.setCurrentIndex(combo.findText("a MIDI file…"))  # asks for the file
        assert combo.currentText() == f"file: {name}"
    assert (doc.interp_a, doc.interp_b) == (-2, -2)
    assert doc.interp_b_file == str(tmp_path / "b.mid")
    files.answer_next(None)  # a cancelled choice keeps the file
    a = panel.findChild(QComboBox, "music.interp_a")
    a.setCurrentIndex(a.findText("a MIDI file…"))
    assert a.currentText() == "file: a.mid" and doc.interp_a == -2
    panel.controls.interp_steps.setValue(2)
    click(panel, "music.interpolate")
    wait_job(qtbot, panel, "Interpolate a.mid to b.mid in 2 steps")
    assert len(doc.takes) == 3
    doc.undo()
    assert doc.clip.notes == ()


def test_the_lstm_continues_the_clip_as_one_undo_step(qtbot, panel):
    doc = panel.document
    doc.replace_clip("Import", melody(2))
    choose(panel, "LSTM: tiny-lstm")
    assert doc.family == "lstm"
    assert not panel.findChild(QToolButton, "music.infill").isVisible()
    panel.controls.bars.setValue(1)
    before = set(doc.clip.notes)
    click(panel, "music.continue")
    wait_job(qtbot, panel, "Continue 1 bar")
    assert before <= set(doc.clip.notes)  # the input's notes kept exactly
    doc.undo()
    assert set(doc.clip.notes) == before


def test_train_on_my_midi_folder_lands_in_the_picker(qtbot, window, panel, tmp_path):
    for i in range(4):
        (tmp_path / f"tune{i}.mid").write_bytes(melody(8, shift=i).to_bytes())
    click(panel, "music.train")
    dialog = next(d for d in window.findChildren(QDialog) if d.objectName() == "music_train_dialog")
    qtbot.waitExposed(dialog)
    files.answer_next(tmp_path)
    QTest.mouseClick(dialog.findChild(QPushButton, "music.train_folder"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.listing is None)  # the folder is listed in the background
    assert "4 MIDI files" in dialog.folder_label.text()
    family = dialog.findChild(QComboBox, "music.train_family")
    family.setCurrentIndex(family.findData("vae"))
    size = dialog.findChild(QComboBox, "music.train_size")
    size.setCurrentIndex(size.findData("tiny"))
    QTest.mouseClick(dialog.findChild(QPushButton, "music.train_start"), Qt.MouseButton.LeftButton)
    assert dialog.findChild(QPushButton, "music.train_stop").isEnabled()
    qtbot.waitUntil(
        lambda: dialog.result is not None or "⚠" in dialog.status.text(), timeout=120000
    )
    assert dialog.result is not None, dialog.status.text()
    assert dialog.loss_plot.steps, "the held-out score was plotted while it trained"
    model = dialog.result["model_file"]
    card = tomllib.loads(model.with_name(model.name + ".card.toml").read_text())
    assert card["family"] == "vae" and card["sha256"]
    assert model.parent == window.context.settings.models_dir() / "music"
    QTest.mouseClick(dialog.findChild(QPushButton, "music.train_use"), Qt.MouseButton.LeftButton)
    assert panel.document.family == "vae"
    assert panel.document.model == f"VAE: {card['name']} (user)"


def test_a_family_job_runs_off_the_gui_thread_and_esc_cancels_it(qtbot, window, panel, monkeypatch):
    import threading

    from studio.ui.panels.music import panel as music_panel

    started, threads = threading.Event(), []

    class Slow:  # a VAE that takes until it is cancelled
        family = "vae"

        def variations(self, clip, amount, n, *, seed=0, ctx=None):
            threads.append(threading.current_thread())
            started.set()
            while True:
                ctx.progress(0.5, "thinking")
                ctx.check_cancelled()
                threading.Event().wait(0.01)

    monkeypatch.setattr(music_panel, "family_model", lambda name, device: Slow())
    doc = panel.document
    doc.replace_clip("Import", melody(2))
    before = doc.clip
    choose(panel, "VAE: tiny-vae")
    click(panel, "music.vary")
    qtbot.waitUntil(started.is_set, timeout=20000)
    assert threads[0] is not threading.main_thread()
    assert panel.actions_by_name["cancel"].isEnabled()
    panel.editor.setFocus()
    QTest.keyClick(panel.editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: panel.status.text() == panel.cancelled_message, timeout=20000)
    assert doc.clip == before and doc.undo_stack.undo_text() == "Import"


def test_listen_plays_an_lstm_continuation_bar_by_bar_once_it_is_written(qtbot, panel, monkeypatch):
    heard = []
    monkeypatch.setattr(panel.player, "append", lambda audio: heard.append(audio))
    doc = panel.document
    doc.replace_clip("Import", melody(2))  # two bars at 100 BPM
    choose(panel, "LSTM: tiny-lstm")
    panel.listen_action.trigger()
    assert doc.listen
    panel.controls.bars.setValue(2)
    click(panel, "music.continue")
    wait_job(qtbot, panel, "Continue 2 bars")
    qtbot.waitUntil(lambda: len(heard) == 2, timeout=20000)
    assert all(len(a.samples) == round(4 * 60 / 100 * 44100) for a in heard)  # a bar each
    assert panel.player.offset_beats == 8.0  # from where the new bars begin
