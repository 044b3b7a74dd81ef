"""The staged MIDI sets are recognised by their layout and read their own way, on tiny synthetic
folders that mimic each set (never the real data)."""

import json

import pytest

from studio.core.media import DRUM_CHANNEL, MidiClip, Note
from studio.music.corpus import (
    _convert_file,
    build_corpus,
    is_heldout,
    midi_set_kind,
    split_group,
    user_midi_files,
)


def _clip(bars: int, meter=(4, 4), channel=0, bpm=120.0, pitch=60) -> MidiClip:
    """One note per beat for ``bars`` bars."""
    n, d = meter
    beat = 4.0 / d
    notes = [Note(i * beat, pitch + (i % 5), beat * 0.5, 90, channel) for i in range(bars * n)]
    return MidiClip(notes=notes, bpm=bpm, beats_per_bar=n, beat_unit=d)


def _write(path, clip: MidiClip) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip.to_bytes())


@pytest.fixture
def pop909(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    root = tmp_path / "pop909" / "POP909"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["song_id", "name", "artist", "modify_times", "num_beats_per_measure",
                  "num_quavers_per_beat"])  # fmt: skip
    # POP909's beat is two quarters: 3 beats is a bar of 6 quarters, 2 beats one of 4
    sheet.append(["001", "a", "x", "1", "3", "2"])
    sheet.append(["002", "b", "y", "1", "2", "3"])
    root.mkdir(parents=True)
    book.save(root / "index.xlsx")
    # the files declare 1/4, as most of POP909's do; the index is the real meter
    _write(root / "001" / "001.mid", _clip(12, (1, 4)))
    _write(root / "001" / "versions" / "001-v1.mid", _clip(12, (1, 4)))
    _write(root / "002" / "002.mid", _clip(12, (1, 4)))
    # song 002's first downbeat is on its second quarter note (0.5 s at 120 bpm): a pickup
    (root / "002" / "beat_midi.txt").write_text(
        "0.0 1.0 0.0\n0.5 0.0 1.0\n1.0 1.0 0.0\n1.5 0.0 0.0\n2.0 1.0 0.0\n2.5 0.0 1.0\n"
    )
    return tmp_path / "pop909"


def test_pop909_meter_comes_from_the_index_not_the_files(pop909, tok):
    assert midi_set_kind(pop909) == "pop909"
    items = user_midi_files([pop909])
    assert {i[2] for i in items} == {
        "pop909/001/001.mid", "pop909/001/versions/001-v1.mid", "pop909/002/002.mid",
    }  # fmt: skip
    assert all(i[1] == "pop" for i in items)
    pieces = {p.piece_id: p for item in items for p in _convert_file(item)[0]}
    assert pieces["pop909/001/001.mid"].meter == (6, 4)
    assert pieces["pop909/001/versions/001-v1.mid"].meter == (6, 4)
    assert pieces["pop909/002/002.mid"].meter == (4, 4)
    # 12 quarter notes: two 6/4 bars (in 1/4 it would have been twelve)
    assert pieces["pop909/001/001.mid"].n_bars == 2
    # the pickup: 3 quarters of padding put the downbeat on bar 2, so 12 + 3 quarters = 4 bars
    song2 = pieces["pop909/002/002.mid"]
    assert song2.n_bars == 4
    first = tok.decode(song2).notes[0]
    assert first.start == 3.0


def test_pop909_without_its_index_says_so(pop909):
    (pop909 / "POP909" / "index.xlsx").write_bytes(b"not a spreadsheet")
    with pytest.raises(ValueError, match="not a readable spreadsheet"):
        user_midi_files([pop909])


def test_heldout_split_is_by_song_for_pop909_and_by_take_for_groove():
    songs = [f"{i:03d}" for i in range(1, 400)]
    held = [s for s in songs if is_heldout(f"pop909/{s}/{s}.mid")]
    assert 5 <= len(held) <= 40  # about 5%
    for s in songs:
        main = is_heldout(f"pop909/{s}/{s}.mid")
        assert all(is_heldout(f"pop909/{s}/versions/{s}-v{v}.mid") == main for v in (1, 2, 3))
    assert split_group("groove/drummer1/session1/1_rock_120_beat_4-4.mid#3") == (
        "groove/drummer1/session1/1_rock_120_beat_4-4.mid"
    )
    assert split_group("bach/bwv1.6.mxl") == "bach/bwv1.6.mxl"  # music21 ids are unchanged


def _drums(bars: int, bpm: float) -> MidiClip:
    notes = []
    for i in range(bars * 8):
        notes.append(Note(i * 0.5, 42, 0.25, 80, DRUM_CHANNEL))
        if i % 4 == 0:
            notes.append(Note(i * 0.5, 36, 0.25, 100, DRUM_CHANNEL))
    return MidiClip(notes=notes, bpm=bpm)


def test_groove_takes_are_cut_into_eight_bar_phrases(tmp_path):
    root = tmp_path / "groove"
    (root / "info.csv").parent.mkdir(parents=True)
    (root / "info.csv").write_text("drummer,session,id,style,bpm\n")
    _write(root / "drummer1" / "session1" / "1_rock_120_beat_4-4.mid", _drums(20, 120.0))
    assert midi_set_kind(root) == "groove"
    (item,) = user_midi_files([root])
    assert json.loads(item[3]) == {"phrase_bars": 8, "meter": [4, 4], "tempo": 120.0}
    pieces, failed, _ = _convert_file(item)
    assert failed == 0
    assert [p.piece_id.rsplit("#", 1)[1] for p in pieces] == ["1", "2", "3"]
    assert [p.n_bars for p in pieces] == [8, 8, 4]
    assert all(p.style == "groove" and p.tracks[0].drum for p in pieces)


def test_freedoom_and_nottingham_and_a_parent_folder(tmp_path):
    doom = tmp_path / "sets" / "freedoom"
    doom.mkdir(parents=True)
    (doom / "CREDITS-MUSIC").write_text("d_e1m1.mid: someone\n")
    band = _clip(4, (7, 8), channel=0, pitch=40)
    band.notes += _drums(2, 140.0).notes
    band.programs = {0: 33}
    _write(doom / "d_e1m1.mid", band)
    notts = tmp_path / "sets" / "nottingham"
    (notts / "MIDI").mkdir(parents=True)
    (notts / "README.upstream.md").write_text("The Nottingham Music Database, cleaned\n")
    _write(notts / "MIDI" / "jigs1.mid", _clip(4, (6, 8)))
    mine = tmp_path / "sets" / "mine"
    _write(mine / "song.mid", _clip(2))
    items = user_midi_files([tmp_path / "sets"])
    styles = {i[2].split("/")[0] if i[1] != "user" else "user": i[1] for i in items}
    assert styles == {"freedoom": "game", "nottingham": "folk", "user": "user"}
    corpus, report = build_corpus([], [tmp_path / "sets"], workers=1)
    assert report.by_style == {"game": 1, "folk": 1, "user": 1}
    game = next(p for p in corpus.pieces if p.style == "game")
    assert game.meter == (7, 8)
    assert {(t.program, t.drum) for t in game.tracks} == {(33, False), (0, True)}
    # one set pointed at directly works too
    assert {i[1] for i in user_midi_files([notts])} == {"folk"}


def test_corpus_command_without_openpyxl_says_what_to_install(
    pop909, tmp_path, monkeypatch, capsys
):
    import sys

    from studio.cli import main

    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    out = tmp_path / "c.npz"
    rc = main(["music", "corpus", "--collections", "", "--midi", str(pop909), "-o", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and not out.exists()
    assert err.startswith("studio: ") and "openpyxl" in err and "Traceback" not in err
