"""``studio arrange add|list|render`` from scripts: files onto lanes at bars, the JSON listing,
a mastered render with stems, and one-line errors that leave the project as it was."""

from __future__ import annotations

import json

import numpy as np
import soundfile

from studio.cli import main
from studio.core.media import MidiClip, Note


def test_add_list_and_render_a_project(tmp_path, capsys):
    mid = tmp_path / "tune.mid"
    MidiClip(notes=[Note(i, 60 + i % 5, 0.8, 100) for i in range(8)], bpm=120).save(mid)
    wav = tmp_path / "pad.wav"
    t = np.arange(48000) / 48000
    soundfile.write(str(wav), (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    song = tmp_path / "song.studio"
    assert main(["arrange", "add", str(song), str(mid)]) == 0
    assert main(["arrange", "add", str(song), str(wav), "--at", "2"]) == 0
    assert main(["arrange", "add", str(song), str(wav), "--at", "3", "--lane", "2"]) == 0
    capsys.readouterr()
    assert main(["arrange", "list", str(song), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [lane["kind"] for lane in data["lanes"]] == ["midi", "audio"]
    assert [c["start_bar"] for c in data["lanes"][1]["clips"]] == [2.0, 3.0]
    assert data["lanes"][1]["clips"][0]["end_seconds"] - data["lanes"][1]["clips"][0][
        "start_seconds"] == 1.0  # fmt: skip
    out = tmp_path / "song.flac"
    assert main(["arrange", "render", str(song), "-o", str(out), "--stems",
                 str(tmp_path / "stems"), "--lufs", "-16"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "-16.0 LUFS" in printed and "2 stems" in printed
    audio, rate = soundfile.read(str(out))
    assert rate == 44100 and audio.shape[1] == 2
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == ["01-tune.wav", "02-pad.wav"]
    # errors: one line, exit 1, nothing changed
    before = (song / "arrange" / "document.json").read_text()
    assert main(["arrange", "add", str(song), str(wav), "--lane", "7"]) == 1
    assert "there is no lane 7" in capsys.readouterr().err
    assert main(["arrange", "add", str(song), str(tmp_path / "gone.wav")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["arrange", "render", str(song), "-o", str(tmp_path / "x.ogg")]) == 1
    assert "render to .wav, .flac or .mp4" in capsys.readouterr().err
    assert (song / "arrange" / "document.json").read_text() == before
