"""Projects written by earlier Studios open in this one (a format-1 project saved by Studio 0.1.0
is kept in tests/data/projects), and the CLI makes, inspects and exports projects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mido

from studio.cli import main
from studio.project import Project

DATA = Path(__file__).parent / "data" / "projects"


def _notes(path: Path) -> list[tuple[int, int]]:
    out, now = [], 0
    for msg in mido.merge_tracks(mido.MidiFile(path).tracks):
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            out.append((now * 480 // mido.MidiFile(path).ticks_per_beat, msg.note))
    return out


def test_a_format_1_project_from_studio_0_1_0_opens_with_every_document(tmp_path):
    folder = shutil.copytree(DATA / "format1-song.studio", tmp_path / "old.studio")
    project = Project.open(folder)
    assert not project.messages
    assert set(project.documents) == {"music", "image", "voice", "video", "library"}
    assert len(project.documents["music"].clip.notes) == 8
    assert project.documents["image"].size == (32, 24)
    assert project.documents["voice"].text.startswith("Sing me a song")
    project.close()


def test_cli_project_round_trip_keeps_the_notes_that_went_in(tmp_path, capsys):
    tune = DATA / "format1-song.mid"
    assert main(["project", "new", str(tmp_path / "song"), "--music", str(tune)]) == 0
    assert main(["project", "info", str(tmp_path / "song.studio"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["documents"]["music"]["summary"].startswith("1 track, 8 notes")
    assert {f["name"] for f in info["documents"]["music"]["files"]} >= {"clip.mid"}
    out = tmp_path / "back.mid"
    assert main(["project", "export", str(tmp_path / "song.studio"), "--panel", "music",
                 "-o", str(out)]) == 0  # fmt: skip
    assert _notes(out) == _notes(tune)


def test_cli_project_refuses_bad_input_with_one_line(tmp_path, capsys):
    assert main(["project", "info", str(tmp_path / "nothing.studio")]) == 1
    assert capsys.readouterr().err.startswith("studio: ")
    (tmp_path / "bad.mid").write_bytes(b"not midi at all")
    assert main(["project", "new", str(tmp_path / "x"), "--music", str(tmp_path / "bad.mid")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: ") and "Traceback" not in err
    assert not (tmp_path / "x.studio").exists()
    shutil.copytree(DATA / "format1-song.studio", tmp_path / "old.studio")
    assert main(["project", "export", str(tmp_path / "old.studio"), "--panel", "music",
                 "-o", str(tmp_path / "x.png")]) == 1  # fmt: skip
    assert "exports as" in capsys.readouterr().err
