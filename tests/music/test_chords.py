"""The chord model harmonize leans on: POP909 labels read right, the shipped model finds the chords
of a plain melody, its file round-trips and is refused when it is not one, and the validation
split never touches the held-out songs. Hand-made melodies; no dataset."""

from __future__ import annotations

import pytest

from studio.core.media import Note
from studio.music.chords import (
    ChordModel,
    EstimatedChord,
    LabelledWindow,
    default_model,
    fit,
    is_validation,
    main,
    melody_profile,
    parse_label,
)
from studio.music.corpus import is_heldout
from studio.music.keys import Key


def arpeggio(roots_and_thirds: list[tuple[int, int]]) -> list[Note]:
    """One bar per chord: root, third, fifth, third as quarter notes (C4 = 60 + root)."""
    notes = []
    for bar, (root, third) in enumerate(roots_and_thirds):
        for i, step in enumerate((0, third, 7, third)):
            notes.append(Note(bar * 4.0 + i, 60 + root + step, 1.0, 90, 0))
    return notes


def test_labels_read_as_the_models_chords():
    assert parse_label("B:maj") == EstimatedChord(11, "maj")
    assert parse_label("C#:min7") == EstimatedChord(1, "min7")
    assert parse_label("Gb:7/3") == EstimatedChord(6, "7")
    assert parse_label("A:sus4(b7)") == EstimatedChord(9, "sus4")
    assert parse_label("D:hdim7") == EstimatedChord(2, "dim")
    assert parse_label("N") is None
    assert EstimatedChord(9, "min7").tones == frozenset({9, 0, 4, 7})


def test_shipped_model_finds_the_chords_of_a_plain_melody():
    model = default_model()
    assert model is not None
    # C | F | G | C | Am | F | G | C, each arpeggiated
    progression = [(0, 4), (5, 4), (7, 4), (0, 4), (9, 3), (5, 4), (7, 4), (0, 4)]
    truth = [0, 5, 7, 0, 9, 5, 7, 0]
    beats = model.chords(
        arpeggio(progression), 32, [4.0 * b for b in range(8)], 4.0, Key(0, "major")
    )
    roots = [beats[b].chord.root == truth[b // 4] for b in range(32)]
    assert sum(roots) / len(roots) >= 0.75
    # what a voice plays where the melody rests: the likeliest tone, and only sure others
    for c in beats:
        best = max(range(12), key=lambda pc: c.member[pc])
        assert best in c.safe_tones()
        assert all(c.member[pc] >= 0.9 for pc in c.safe_tones() - {best})


def test_a_phrase_ending_echoes_into_the_rest():
    melody = [Note(0.0, 64, 1.0, 90, 0)]  # E4, then silence
    assert melody_profile(melody, 1.0).argmax() == 4
    assert melody_profile(melody, 1.0)[4] > melody_profile(melody, 2.0)[4] > 0
    assert not melody_profile(melody, 1.0, echo=0.0).any()


def test_fit_learns_which_melody_notes_a_chord_holds_and_round_trips(tmp_path):
    melody = arpeggio([(0, 4), (7, 4)] * 4)
    labels = [EstimatedChord(0, "maj")] * 4 + [EstimatedChord(7, "maj")] * 4
    window = LabelledWindow(
        "pop909/x", melody, [4.0 * b for b in range(8)], 4.0, labels * 4, Key(0, "major")
    )
    model = fit([window])
    maj = model.emit[0]
    assert maj[0] > maj[1] and maj[4] > maj[5] and maj[7] > maj[6]
    assert model.stay[0] < model.stay[2]  # chords change on downbeats here, never between
    again = ChordModel.from_json(model.to_json())
    assert again.weight == model.weight
    assert (again.change.round(5) == model.change.round(5)).all()
    with pytest.raises(ValueError, match="studio: .*not a studio chord model"):
        ChordModel.from_json('{"format": "something else"}')


def test_validation_split_is_training_songs_only():
    ids = [f"pop909/{i:03d}/{i:03d}.mid" for i in range(1, 910)]
    val = [p for p in ids if is_validation(p)]
    assert 40 < len(val) < 140
    assert not any(is_heldout(p) for p in val)
    # versions of a song fall on the song's side
    assert is_validation("pop909/" + val[0].split("/")[1] + "/versions/x-v1.mid")


def test_fit_command_says_what_is_wrong_in_words(tmp_path, capsys):
    assert main(["--midi", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: ") and "nowhere" in err and "Traceback" not in err
    assert main(["--midi", str(tmp_path), "-o", str(tmp_path / "m.json")]) == 1
    assert "no POP909 song" in capsys.readouterr().err


def test_voices_follow_the_melodys_phrases_and_fall_back_to_bar_triads(monkeypatch):
    import studio.music.chords as chords
    from studio.music.engine import _beat_chords, phrase_spans

    melody = [Note(4.0, 60, 1.0, 90, 0), Note(5.0, 64, 1.0, 90, 0), Note(12.0, 67, 1.0, 90, 0)]
    # the voices rest before the melody enters and in its long rest, and go on 2 beats after
    assert phrase_spans(melody) == [(4.0, 8.0), (12.0, 15.0)]
    grid = [(4.0 * b, 4, 4) for b in range(4)]
    with_model = _beat_chords(melody, grid, Key(0, "major"))
    assert len(with_model) == 16 and all(root in tones for tones, _, root in with_model)
    monkeypatch.setattr(chords, "default_model", lambda: None)  # no shipped chord model
    plain = _beat_chords(melody, grid, Key(0, "major"))
    assert plain[4][0] == frozenset({0, 4, 7})  # bar 2 implies C major
    assert plain[4][0] == plain[7][0]  # one triad per bar
