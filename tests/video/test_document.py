"""The Video panel's document without Qt: settings edits and undo, a project's save and open,
a source that moved away, the settings file and a video file as the start of a document."""

import json

import pytest

from studio.core.document import DocumentError
from studio.project import Project
from studio.video.document import VideoDocument


def test_settings_are_undo_steps_and_build_the_engine_request():
    doc = VideoDocument()
    doc.set("Threshold 0.5", merge_key="video.threshold", threshold=0.5)
    doc.set("Threshold 0.55", merge_key="video.threshold", threshold=0.55)  # typing: one step
    doc.set("Background: Colour", effect="color", color="#ff00ff")
    assert doc.undo_stack.labels() == ["Threshold 0.5", "Background: Colour"]
    settings = doc.video_settings()
    assert settings.refine.threshold == 0.55 and settings.effect == "color:#ff00ff"
    assert doc.build_effect().color == (255, 0, 255)
    assert doc.undo() == "Background: Colour"
    assert doc.effect == "blur" and doc.video_settings().effect == "blur:16"
    assert doc.undo() == "Threshold 0.5" and doc.threshold == 0.0
    assert doc.redo() == "Threshold 0.5" and doc.threshold == 0.55
    doc.set_quiet(view_mode="matte")  # view state: saved, never an undo step
    assert doc.undo_stack.undo_text() == "Threshold 0.5"


def test_a_macro_is_one_step_and_events_tell_the_view():
    doc = VideoDocument()
    seen = []
    doc.changed.connect(lambda name, value: seen.append((name, value)))
    with doc.macro("Green screen, sharp edges"):
        doc.set("a", effect="green")
        doc.set("b", feather=0.0, grow=-2.0)
    assert doc.undo_stack.labels() == ["Green screen, sharp edges"]
    assert ("effect", "green") in seen and ("grow", -2.0) in seen
    seen.clear()
    doc.undo()
    assert doc.effect == "blur" and doc.grow == 0.0 and ("effect", "blur") in seen


def test_an_effect_without_its_picture_or_an_out_of_range_value_says_so():
    from studio.video.effects import EffectError

    doc = VideoDocument(effect="image")
    with pytest.raises(EffectError, match="choose the background image"):
        doc.video_settings()
    with pytest.raises(EffectError, match="Image panel has no picture"):
        VideoDocument(effect="image-panel").build_effect()
    with pytest.raises(ValueError, match="smooth|Smoothing"):
        VideoDocument(smooth=5.0).refine_settings()


def test_project_save_and_open_round_trip(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video, but it is there")
    background = tmp_path / "beach.png"
    background.write_bytes(b"png")
    project = Project()
    doc = project.document("video")
    doc.set("Open clip.mp4", source="file", source_path=str(clip))
    doc.set("Background: Image", effect="image", background_image=str(background))
    doc.set("Grow 4", grow=4.0, threshold=0.3, guided=False)
    doc.set("Export 10 frames", export_frames=10, keep_audio=False)
    doc.set_quiet(view_mode="composite")
    saved = project.save(tmp_path / "cut")
    data = json.loads((saved / "video" / "document.json").read_text())
    assert data["fields"]["source_path"] == str(clip)  # paths are plain strings
    opened = Project.open(saved, lock=False)
    assert opened.messages == []
    back = opened.documents["video"]
    assert back.values() == doc.values()
    info = opened.info()["documents"]["video"]
    assert "clip.mp4" in info["summary"] and "selfie" in info["summary"]
    assert info["provenance"]["grow"] == 4.0
    saved_history = json.loads((saved / "video" / "document.json").read_text())["history"]
    assert saved_history == ["Open clip.mp4", "Background: Image", "Grow 4", "Export 10 frames"]


def test_a_source_that_moved_away_is_a_message_and_the_settings_still_open(tmp_path):
    clip = tmp_path / "gone.mp4"
    clip.write_bytes(b"x")
    project = Project()
    doc = project.document("video")
    doc.set("Open gone.mp4", source="file", source_path=str(clip))
    doc.set("Feather 7", feather=7.0, effect="green")
    saved = project.save(tmp_path / "moved")
    clip.unlink()
    opened = Project.open(saved, lock=False)
    back = opened.documents["video"]
    assert back.source == "demo" and back.source_path == ""
    assert back.feather == 7.0 and back.effect == "green"
    assert any("gone.mp4" in m and "missing" in m for m in opened.messages)
    assert any(m.startswith("video:") for m in opened.messages)


def test_bad_values_fall_back_one_by_one_and_a_newer_format_is_refused(tmp_path):
    folder = tmp_path / "video"
    folder.mkdir()
    fields = {"threshold": 7, "effect": "sparkles", "grow": 3, "color": "pink", "feather": 2.5}
    (folder / "document.json").write_text(json.dumps({"version": 1, "fields": fields}))
    doc = VideoDocument.read(folder)
    assert doc.threshold == 0.0 and doc.effect == "blur" and doc.color == "#336699"
    assert doc.grow == 3.0 and doc.feather == 2.5
    assert len(doc.messages) == 3
    (folder / "document.json").write_text(json.dumps({"version": 99, "fields": {}}))
    with pytest.raises(DocumentError, match="newer Studio"):
        VideoDocument.read(folder)


def test_settings_file_and_video_file_as_the_start_of_a_document(tmp_path):
    doc = VideoDocument(effect="matte", smooth=0.2, camera_size="640x480")
    out = doc.export(tmp_path / "look.json")
    assert VideoDocument.from_file(out).values() == doc.values()
    with pytest.raises(DocumentError, match=".json"):
        doc.export(tmp_path / "look.txt")
    clip = tmp_path / "take.mov"
    clip.write_bytes(b"x")
    started = VideoDocument.from_file(clip)
    assert started.source == "file" and started.source_path == str(clip.resolve())
    folder = tmp_path / "frames"
    folder.mkdir()
    assert VideoDocument.from_file(folder).source == "sequence"
    with pytest.raises(DocumentError, match="does not exist"):
        VideoDocument.from_file(tmp_path / "nothing.mp4")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DocumentError, match="not a video"):
        VideoDocument.from_file(tmp_path / "notes.txt")
