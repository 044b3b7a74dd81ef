"""The Video panel: live preview of the demo, controls applied live, export, bad sources."""

import numpy as np
import pytest

from studio.core.media import Image
from studio.ui.jobs import JobState


@pytest.fixture
def panel(qtbot, window):
    p = window.panels["video"]
    window.raise_panel("video")
    small_demo = {"width": 320, "height": 180, "frames": 60, "fps": 30.0}
    p.source_options = lambda: small_demo if p.document.source == "demo" else {}
    p.start_preview()
    qtbot.waitUntil(lambda: p.last is not None, timeout=20000)
    return p


def _next_frame(qtbot, panel):
    before = panel.last
    qtbot.waitUntil(lambda: panel.last is not before, timeout=10000)
    return panel.last


def test_preview_shows_original_matte_and_composite_with_its_numbers(qtbot, panel):
    frame = _next_frame(qtbot, panel)
    assert frame.frame.pixels.shape == (180, 320, 3)
    assert set(panel.view.images) == {"original", "matte", "composite"}
    assert "FPS" in panel.view.stats and "ms" in panel.view.stats
    assert panel.view.cells() == ["original", "matte", "composite"]
    qtbot.keyClick(panel, "3")  # the matte alone
    assert panel.view.cells() == ["matte"]
    # the person is found in the demo: the middle of the matte is opaque, the sides clear (on
    # the first frame: the camera drifts, and a busy machine shows a later frame first)
    panel.toggle_play()
    panel._on_scrub_moved(0)
    qtbot.waitUntil(lambda: panel.last.frame.index == 0, timeout=10000)
    matte = panel.last.matte
    assert matte[:, 130:190].mean() > 150 and matte[:, :20].mean() < 40


def test_pause_step_and_scrub(qtbot, panel):
    panel.toggle_play()
    assert panel.play_button.text() == "Play"
    qtbot.wait(100)
    shown = panel.last.frame.index
    panel.step()
    assert _next_frame(qtbot, panel).frame.index == shown + 1
    panel._on_scrub_moved(40)
    qtbot.waitUntil(lambda: panel.last.frame.index == 40, timeout=10000)
    assert panel.position_label.text() == "41 / 60"


def test_effect_and_matte_controls_apply_live(qtbot, panel):
    panel.set_effect("color")
    panel.document.set("Background colour", color="#ff00ff")
    qtbot.waitUntil(
        lambda: tuple(panel.last.output[5, 5]) == (255, 0, 255), timeout=10000
    )  # a corner of the backdrop is the chosen colour
    panel.refine_boxes["grow"].setValue(20)
    assert panel.document.grow == 20.0
    grown = _next_frame(qtbot, panel)
    qtbot.waitUntil(lambda: panel.last is not grown, timeout=10000)
    assert panel.last.matte.mean() > grown.matte.mean() * 0.9
    panel.set_effect("image-panel")
    qtbot.waitUntil(lambda: "no picture" in panel.status.text(), timeout=5000)
    panel.set_effect("blur")
    panel.context.shared["image.current"] = Image(np.full((20, 20, 3), 7, np.uint8))
    panel.set_effect("image-panel")
    qtbot.waitUntil(lambda: tuple(panel.last.output[5, 5]) == (7, 7, 7), timeout=10000)


def test_export_with_progress_then_the_matte_goes_to_the_image_panel(qtbot, panel, tmp_path):
    panel.set_effect("matte")
    handle = panel.export_to(tmp_path / "demo_matte.mp4")
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert (tmp_path / "demo_matte.mp4").stat().st_size > 1000
    assert "Exported 60 frames" in panel.status.text()
    assert panel.play_button.text() == "Play"  # the preview paused for the export
    panel.send_matte()
    mask = panel.context.shared["video.matte"]
    frame = panel.context.shared["video.frame"]
    assert mask.alpha.shape == frame.pixels.shape[:2] == (180, 320)
    assert mask.provenance["engine"] == "selfie"
    assert panel.document.last_export == str(tmp_path / "demo_matte.mp4")


def test_cancelled_export_leaves_no_file(qtbot, panel, tmp_path):
    panel.source_options = lambda: {"width": 320, "height": 180, "frames": 3000, "fps": 30.0}
    handle = panel.export_to(tmp_path / "long.mp4")
    qtbot.waitUntil(lambda: handle.fraction > 0.01, timeout=20000)
    panel.cancel()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert handle.state == JobState.CANCELLED
    assert "nothing was written" in panel.status.text()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_camera_says_so_and_another_source_works(qtbot, panel):
    panel.document.set("Camera 9", camera_index=9, source="camera")
    qtbot.waitUntil(lambda: "no camera at index 9" in panel.view.message, timeout=20000)
    assert "Choose another source" in panel.view.message
    assert not panel.export_button.isEnabled()
    assert panel.camera_index.value() == 9 and panel.camera_row.isVisible()
    panel.last = None
    panel.set_source("demo")
    qtbot.waitUntil(lambda: panel.last is not None, timeout=20000)
    assert panel.view.message == ""


def test_a_video_file_opens_and_plays(qtbot, panel, tmp_path):
    from studio.video.export import write_demo

    clip = write_demo(tmp_path / "clip.mp4", seconds=1.0, width=160, height=90, fps=10).path
    assert panel.open_file(clip)
    qtbot.waitUntil(
        lambda: panel.last is not None and panel.last.frame.pixels.shape == (90, 160, 3),
        timeout=20000,
    )
    assert panel.source_label.text() == "clip.mp4"
    assert not panel.open_file(tmp_path / "nothing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"junk" * 100)
    panel.open_file(junk)
    qtbot.waitUntil(lambda: "cannot read junk.mp4" in panel.view.message, timeout=20000)


def test_another_document_shows_in_every_control_and_the_old_one_is_let_go(qtbot, panel, tmp_path):
    from studio.video.document import VideoDocument

    old = panel.document
    doc = VideoDocument(threshold=0.3, grow=-4.0, guided=False, effect="green",
                        view_mode="matte", export_frames=12, camera_fps=25)  # fmt: skip
    panel.set_document(doc)  # what File ▸ Open does for a project with this document
    assert panel.refine_boxes["threshold"].value() == 0.3
    assert panel.refine_boxes["grow"].value() == -4.0
    assert not panel.guided_check.isChecked() and panel.frames_box.value() == 12
    assert panel.effect_combo.currentData() == "green" and panel.view.cells() == ["matte"]
    assert panel.camera_fps.value() == 25
    old.set("Grow 9", grow=9.0)  # the old document no longer drives the panel
    assert panel.refine_boxes["grow"].value() == -4.0
    panel.refine_boxes["feather"].setValue(3.0)
    assert doc.feather == 3.0 and old.feather == 1.5
    assert doc.undo_stack.undo_text() == "Feather 3"
