"""The Music document without Qt: edits and their undo, a generation as one step, the project
round trip, damaged projects, and MIDI files in and out."""

import json

import pytest

from studio.core.document import DocumentError
from studio.core.media import MidiClip, Note
from studio.music.document import Clip, MusicDocument
from studio.project import Project


def _clip(n=16, channels=(0, 1)) -> MidiClip:
    notes = [
        Note(i * 0.5, 60 + (i * 5) % 12 - 12 * c, 0.5, 70 + i, c)
        for i in range(n)
        for c in channels
    ]
    return MidiClip(notes, bpm=96, programs={0: 52, 1: 32})


def test_editing_notes_is_undoable_step_by_step():
    doc = MusicDocument()
    doc.edit_notes("Draw note", [Note(1.0, 64, 0.25)])
    doc.edit_notes("Draw note", [*doc.clip.notes, Note(2.0, 67, 0.5)])
    doc.edit_notes(
        "Transpose notes", [Note(n.start, n.pitch + 1, n.duration) for n in doc.clip.notes]
    )
    assert [n.pitch for n in doc.clip.notes] == [65, 68]
    assert doc.undo_stack.undo_text() == "Transpose notes"
    assert doc.undo() == "Transpose notes"
    assert [n.pitch for n in doc.clip.notes] == [64, 67]
    doc.undo()
    assert doc.clip.notes == (Note(1.0, 64, 0.25),)
    doc.redo()
    doc.redo()
    assert [n.pitch for n in doc.clip.notes] == [65, 68]
    assert not doc.undo_stack.can_redo


def test_values_are_immutable_copies():
    source = _clip()
    doc = MusicDocument()
    doc.replace_clip("Import", source)
    source.notes.clear()  # the engine's clip changing later does not touch the document
    source.programs[0] = 1
    assert len(doc.clip.notes) == 32 and doc.clip.program_map()[0] == 52
    engine_input = doc.midi_clip()
    engine_input.notes.clear()
    assert len(doc.clip.notes) == 32
    with pytest.raises(AttributeError):
        doc.clip.notes = ()  # type: ignore[misc]


def test_mix_instruments_and_quiet_fields():
    doc = MusicDocument()
    doc.replace_clip("Import", _clip())
    doc.set_program(1, 40)
    doc.set_solo(1, True)
    assert doc.mix() == {0: 0.0, 1: 1.0}
    doc.set_volume(1, 0.5)
    doc.set_volume(1, 0.4)  # a slider drag: one step
    assert doc.mix() == {0: 0.0, 1: 0.4}
    doc.set_quiet(temperature=1.3, bar_range=(2, 3), selected_notes=doc.clip.notes[:2])
    assert doc.undo() == "Volume of track 2"
    assert doc.mix() == {0: 0.0, 1: 1.0}
    doc.undo()
    doc.undo()
    assert doc.clip.program_map()[1] == 32 and doc.mix() == {0: 1.0, 1: 1.0}
    assert doc.temperature == 1.3 and doc.bar_range == (2, 3)  # never undone


def test_generation_over_existing_bars_is_one_step_and_takes_are_steps():
    doc = MusicDocument()
    doc.replace_clip("Import", _clip())
    before = doc.clip
    takes = []
    for seed in (5, 6):
        clip = _clip(channels=(0,))
        clip.notes = [Note(n.start, n.pitch + seed, n.duration) for n in clip.notes]
        clip.provenance = {"seed": seed, "mode": "infill", "instruments": [52, 32]}
        takes.append(clip)
    doc.apply_generation("Infill bars 2–3", takes)
    assert doc.undo_stack.undo_text() == "Infill bars 2–3"
    assert doc.clip.provenance_dict()["seed"] == 5 and doc.take == 0 and len(doc.takes) == 2
    doc.choose_take(1)
    assert doc.clip.provenance_dict()["seed"] == 6 and doc.take == 1
    assert doc.undo() == "Take 2"
    assert doc.clip.provenance_dict()["seed"] == 5
    assert doc.undo() == "Infill bars 2–3"
    assert doc.clip == before and doc.takes == () and doc.take == -1
    with pytest.raises(IndexError):
        doc.choose_take(0)


def test_project_round_trip_is_equal(tmp_path):
    project = Project()
    doc = project.document("music")
    doc.replace_clip("Import", _clip())
    doc.apply_generation("Generate 2 bars", [_clip(4, (0,)), _clip(6, (2,))])
    doc.choose_take(1)
    doc.set_program(2, 11)
    doc.set_muted(2, True)
    doc.set_volume(2, 0.25)
    doc.set_quiet(
        key="D minor", bars=2, temperature=0.8, seed=7, instruments="piano,bass",
        selected_notes=doc.clip.notes[:1], bar_range=(1, 2), track=2, snap=0.125,
        plugin_values={"studio/scale-melody": {"bars": 2}},
    )  # fmt: skip
    path = project.save(tmp_path / "song")
    project.close()

    opened = Project.open(path)
    again = opened.document("music")
    assert opened.messages == []
    for name in MusicDocument.FIELDS:
        assert again.get(name) == doc.get(name), name
    assert (path / "music" / "clip.mid").exists()
    assert (path / "music" / "takes" / "take-2.mid").exists()
    data = json.loads((path / "music" / "document.json").read_text())
    assert data["history"][-1] == "Volume of track 3"
    assert data["takes"][1]["provenance"] == {}
    info = opened.info()
    assert info["documents"]["music"]["summary"] == "1 track, 6 notes, 1 bar, 2 takes"
    opened.close()


def test_saving_again_leaves_unchanged_files_alone(tmp_path):
    project = Project()
    doc = project.document("music")
    doc.replace_clip("Import", _clip())
    doc.apply_generation("Generate", [_clip(4), _clip(5), _clip(6)])
    path = project.save(tmp_path / "song")
    clip_mid = path / "music" / "clip.mid"
    stamp = clip_mid.stat().st_mtime_ns
    doc.set_quiet(temperature=0.5)
    project.save()
    assert clip_mid.stat().st_mtime_ns == stamp
    doc.apply_generation("Generate", [_clip(3)])
    project.save()
    assert clip_mid.stat().st_mtime_ns != stamp
    assert sorted(p.name for p in (path / "music" / "takes").iterdir()) == ["take-1.mid"]
    project.close()


def test_missing_take_and_unreadable_clip_give_messages_and_the_rest_opens(tmp_path):
    project = Project()
    doc = project.document("music")
    doc.apply_generation("Generate", [_clip(4), _clip(5)])
    doc.set_quiet(style="chorale", bars=3)
    path = project.save(tmp_path / "song")
    project.close()
    (path / "music" / "takes" / "take-2.mid").unlink()
    opened = Project.open(path)
    again = opened.document("music")
    assert any("take 2" in m and "missing" in m for m in opened.messages)
    assert len(again.takes) == 1 and again.clip == doc.clip and again.bars == 3
    opened.close()

    (path / "music" / "clip.mid").write_bytes(b"not midi")
    opened = Project.open(path)
    again = opened.document("music")
    assert any("clip.mid" in m and "could not be read" in m for m in opened.messages)
    assert again.clip == Clip() and again.bars == 3 and len(again.takes) == 1
    opened.close()


def test_a_newer_document_is_refused(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "document.json").write_text(json.dumps({"version": 99, "fields": {}}))
    with pytest.raises(DocumentError, match="newer Studio"):
        MusicDocument.read(folder)


def test_bad_control_values_keep_their_defaults(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    MidiClip([Note(0, 60, 1)]).save(folder / "clip.mid")
    fields = {"bars": "eight", "temperature": 0.7, "bar_range": [3, 1], "selected_notes": [[1]]}
    (folder / "document.json").write_text(json.dumps({"version": 1, "fields": fields}))
    doc = MusicDocument.read(folder)
    assert doc.bars == 8 and doc.temperature == 0.7 and doc.bar_range is None
    assert doc.selected_notes == () and len(doc.clip.notes) == 1


def test_from_file_and_export_keep_every_note(tmp_path):
    source = MidiClip(
        [
            Note(0.0, 60, 1.0, 90, 0),
            Note(0.0, 36, 0.25, 110, 9),
            Note(1.5, 64, 0.75, 64, 0),
            Note(2.0, 43, 2.0, 80, 1),
            Note(3.125, 72, 0.125, 100, 0),
        ],
        bpm=132,
        beats_per_bar=3,
        programs={0: 40, 1: 33},
    )
    source.save(tmp_path / "in.mid")
    doc = MusicDocument.from_file(tmp_path / "in.mid")
    assert doc.summary() == "3 tracks, 5 notes, 2 bars"
    doc.edit_notes("Draw note", [*doc.clip.notes, Note(4.0, 67, 1.0, 77, 1)])
    out = doc.export(tmp_path / "out.mid")
    back = MidiClip.load(out)
    assert back.notes == sorted([*source.notes, Note(4.0, 67, 1.0, 77, 1)])
    assert back.programs == {0: 40, 1: 33} and back.bpm == 132 and back.beats_per_bar == 3
    # a note drawn off the grid comes back exactly as the document holds it
    doc.edit_notes("Draw note", [*doc.clip.notes, Note(5.0001, 70, 0.33333, 50, 0)])
    assert MidiClip.load(doc.export(tmp_path / "out2.mid")).notes == list(doc.clip.notes)


def test_from_file_refuses_bad_input(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"nope")
    with pytest.raises(DocumentError, match="not a readable MIDI file"):
        MusicDocument.from_file(bad)
    MidiClip([]).save(tmp_path / "empty.mid")
    with pytest.raises(DocumentError, match="has no notes"):
        MusicDocument.from_file(tmp_path / "empty.mid")
    with pytest.raises(DocumentError, match="exports to"):
        MusicDocument().export(tmp_path / "x.txt")


def test_export_renders_audio(tmp_path):
    doc = MusicDocument()
    doc.edit_notes("Draw note", [Note(0, 60, 0.5)])
    out = doc.export(tmp_path / "out.wav")
    assert out.stat().st_size > 1000
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_track_names_keys_markers_and_lyrics_survive_a_project(tmp_path):
    from studio.core.media import MidiClip, Note
    from studio.music.document import MusicDocument
    from studio.project import Project

    clip = MidiClip([Note(0.0, 62, 1.0, 90, 0), Note(1.0, 64, 1.0, 90, 1)], bpm=96,
                    programs={0: 73, 1: 32}, track_names={0: "Flute", 1: "Bass"},
                    key_signatures=[(0.0, "D")], markers=[(0.0, "Verse")],
                    lyrics=[(0.0, "sea")])  # fmt: skip
    project = Project()
    doc = project.document("music")
    doc.replace_clip("Import", clip)
    path = project.save(tmp_path / "keep")
    project.close()
    back = Project.open(path).documents["music"].midi_clip()
    assert back.track_names == {0: "Flute", 1: "Bass"}
    assert back.key_signatures == [(0.0, "D")]
    assert back.markers == [(0.0, "Verse")] and back.lyrics == [(0.0, "sea")]
    assert isinstance(MusicDocument.from_file(path / "music" / "clip.mid"), MusicDocument)


def test_the_chosen_model_family_and_its_settings_are_saved_and_read_back(tmp_path):
    doc = MusicDocument(clip=Clip.from_midi(MidiClip([Note(0, 60, 1)])))
    doc.set_quiet(model="VAE: mine (user)", family="vae", interp_a=0, interp_b=2, interp_steps=7,
                  amount=0.8, density=-1.5, groove_style="game", groove_under=False)  # fmt: skip
    assert not doc.undo_stack.can_undo  # settings, not undo steps
    folder = tmp_path / "music"
    folder.mkdir()
    MusicDocument.write_snapshot(doc.snapshot(), folder)
    again = MusicDocument.read(folder)
    assert (again.model, again.family, again.interp_a, again.interp_b) == (
        "VAE: mine (user)", "vae", 0, 2)  # fmt: skip
    assert (again.interp_steps, again.amount, again.groove_style, again.groove_under) == (
        7, 0.8, "game", False)  # fmt: skip
    assert again.density == -1.5


def test_a_bad_family_or_amount_in_the_file_is_corrected(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    MidiClip([Note(0, 60, 1)]).save(folder / "clip.mid")
    fields = {"family": "diffusion", "amount": 7.5, "interp_steps": 1000, "density": -9}
    (folder / "document.json").write_text(json.dumps({"version": 1, "fields": fields}))
    doc = MusicDocument.read(folder)
    assert doc.family == "transformer" and doc.amount == 1.0 and doc.interp_steps == 16
    assert doc.density == -2.0
