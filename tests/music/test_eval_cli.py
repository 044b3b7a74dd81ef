"""``studio music eval --continuation --harmonize --json`` on a folder of hand-made songs."""

from __future__ import annotations

import json

from studio.cli import main
from studio.core.media import MidiClip, Note

TUNE = [62, 66, 69, 74, 71, 69, 66, 69, 74, 76, 78, 76, 74, 71, 69, 66]


def song(shift: int = 0) -> MidiClip:
    notes = []
    for bar in range(12):
        for i in range(8):
            notes.append(Note(bar * 4 + i * 0.5, TUNE[(bar * 8 + i) % 16] + shift, 0.5, 90, 0))
        notes.append(Note(bar * 4, 38 + shift, 4.0, 80, 1))
    return MidiClip(sorted(notes), bpm=110, programs={0: 73, 1: 32})


def test_eval_continuation_and_harmonize_json(tmp_path, monkeypatch, capsys):
    import studio.music.corpus as corpus
    from studio.core.resources import resources_dir

    song(0).save(tmp_path / "song.mid")
    monkeypatch.setattr(corpus, "is_heldout", lambda piece_id: True)  # every song is held out
    model = resources_dir() / "models" / "music" / "studio-music-small.safetensors"
    args = ["music", "eval", "--continuation", "--harmonize", "--midi", str(tmp_path)]
    args += ["--instruments", "cello", "--pieces", "1", "--model", str(model), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    for mode in ("continue", "infill"):
        rep = report["continuation"][mode]
        assert rep["pieces"] == 1 and rep["new_notes"] > 0
        assert rep["density_within_35pct"] == 1.0
        assert rep["in_prompt_range"] >= 0.95
        assert rep["in_instrument_range"] == 1.0
    harm = report["harmonize"]
    assert harm["pieces"] == 1 and harm["added_notes"] > 0
    assert harm["on_beat_consonant"] >= 0.85 and harm["bass_lowest"] >= 0.95
    assert harm["in_instrument_range"] == 1.0


def test_eval_continuation_needs_a_midi_folder(capsys):
    assert main(["music", "eval", "--continuation"]) == 1
    assert "--midi" in capsys.readouterr().err
