"""Issue 18, MIDI: files written elsewhere come through (SMPTE timing, program changes in the middle
of a track, names, keys, markers, lyrics), bad ones get a message in words, render is bounded
before the work and streams to disk, and every output is atomic."""

import os
import random
import signal
import struct
import subprocess
import sys
import time
import tracemalloc

import mido
import pytest
import soundfile

from studio.cli import main
from studio.core.media import MIDI_MAX_FILE_BYTES, MidiClip, MidiError, Note
from studio.music.synth import RenderTooLong, render, render_to_file


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def smf(*events: bytes, division: int = 96) -> bytes:
    """A one-track standard MIDI file with ``division`` as the raw header field."""
    track = b"".join(events)
    return (
        b"MThd"
        + struct.pack(">IHHH", 6, 0, 1, division)
        + b"MTrk"
        + struct.pack(">I", len(track))
        + track
    )


NOTE = (b"\x00\x90\x3c\x40", b"\x60\x80\x3c\x00", b"\x00\xff\x2f\x00")
# the file: one note of 7200 beats at 1 tick a beat, 30 bytes
HOUR_NOTE = smf(b"\x00\x90\x3c\x40", _vlq(7200) + b"\x3c\x00", division=1)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (smf(*NOTE, division=0), "a beat has 0 ticks"),
        (smf(b"\x00\xff\x51\x03\x00\x00\x00", *NOTE), "tempo of 0 microseconds"),
        (smf(b"\x00\xff\x59\x02\x09\x00", *NOTE), "key signature is not a key"),
        (smf(b"\x00\xff\x58\x04\x00\x02\x18\x08", *NOTE), "time signature of 0/4"),
        (smf(b"\x00\xff\x58\x04\x04\x0c\x18\x08", *NOTE), "time signature of 4/4096"),
        (smf(*NOTE, division=0xE800), "SMPTE timing of 24 frames a second and 0 ticks"),
        (smf(*NOTE)[:-7], "ends in the middle"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "not a readable MIDI file"),
        (b"garbage", "not a readable MIDI file"),
    ],
)
def test_bad_files_get_one_message_in_words(tmp_path, data, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError) as err:
        MidiClip.load(path)
    message = str(err.value)
    assert words in message and "bad.mid" in message
    for bare in ("ZeroDivisionError", "KeySignatureError", "IndexError", "division by zero"):
        assert bare not in message


def test_cli_says_studio_and_the_reason(tmp_path, capsys):
    path = tmp_path / "tempo0.mid"
    path.write_bytes(smf(b"\x00\xff\x51\x03\x00\x00\x00", *NOTE))
    assert main(["music", "render", str(path), "-o", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("studio: ") and "tempo of 0" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_files_over_the_size_limit_are_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.mid"
    with open(path, "wb") as fh:
        fh.truncate(MIDI_MAX_FILE_BYTES + 1)
    with pytest.raises(MidiError, match="MiB; Studio reads MIDI files up to 4 MiB"):
        MidiClip.load(path)


def test_smpte_timing_is_read(tmp_path):
    # 25 frames a second, 40 ticks a frame: 1000 ticks a second; the note lasts one second
    path = tmp_path / "smpte.mid"
    path.write_bytes(
        smf(
            b"\x00\xff\x51\x03\x09\x27\xc0",  # 100 BPM
            b"\x00\x90\x3c\x40",
            _vlq(500) + b"\x90\x40\x40",
            _vlq(500) + b"\x80\x3c\x00",
            _vlq(1000) + b"\x80\x40\x00",
            b"\x00\xff\x2f\x00",
            division=((256 - 25) << 8) | 40,
        )
    )
    clip = MidiClip.load(path)
    assert clip.bpm == 100.0
    first, second = clip.notes
    assert clip.seconds_at(first.end) == pytest.approx(1.0)
    assert clip.seconds_at(second.start) == pytest.approx(0.5)
    assert clip.seconds_at(second.end) == pytest.approx(2.0)


def _guitar_file(path):
    """One track: 5 muted-guitar notes, then a program change to distortion and 7 more."""
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)])
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="Lead guitar")])
    track.append(mido.Message("program_change", channel=2, program=28, time=0))
    for i in range(12):
        if i == 5:
            track.append(mido.Message("program_change", channel=2, program=30, time=0))
        track.append(mido.Message("note_on", channel=2, note=52 + i, velocity=90, time=0))
        track.append(mido.Message("note_off", channel=2, note=52 + i, time=480))
    mid.tracks += [meta, track]
    mid.save(str(path))


def test_a_program_change_in_the_middle_of_a_track_splits_it_there(tmp_path):
    _guitar_file(tmp_path / "guitar.mid")
    clip = MidiClip.load(tmp_path / "guitar.mid")
    muted = [n for n in clip.notes if clip.programs[n.channel] == 28]
    distorted = [n for n in clip.notes if clip.programs[n.channel] == 30]
    assert [n.pitch for n in muted] == list(range(52, 57))
    assert [n.pitch for n in distorted] == list(range(57, 64))
    assert len({n.channel for n in muted} | {n.channel for n in distorted}) == 2
    assert set(clip.track_names.values()) == {"Lead guitar"}
    again = MidiClip.load(clip.save(tmp_path / "again.mid"))
    assert again.notes == clip.notes and again.programs == clip.programs


def test_program_changes_at_the_start_or_in_another_track_still_apply(tmp_path):
    mid = mido.MidiFile(type=1)
    conductor = mido.MidiTrack(
        [mido.Message("program_change", channel=0, program=40, time=0)]
    )  # a violin, set where many sequencers put it
    part = mido.MidiTrack(
        [
            mido.Message("note_on", channel=0, note=60, velocity=80, time=0),
            mido.Message("note_off", channel=0, note=60, time=480),
        ]
    )
    mid.tracks += [conductor, part]
    mid.save(str(tmp_path / "v.mid"))
    clip = MidiClip.load(tmp_path / "v.mid")
    assert clip.programs == {0: 40} and clip.notes[0].channel == 0


def test_names_keys_markers_and_lyrics_survive_a_round_trip(tmp_path):
    clip = MidiClip(
        [Note(0, 60, 1, 90, 0), Note(1, 64, 1, 90, 0), Note(0, 36, 2, 90, 1)],
        programs={0: 52, 1: 32},
        track_names={0: "Choir", 1: "Bass"},
        key_signatures=[(0.0, "Eb"), (4.0, "Cm")],
        markers=[(0.0, "Verse"), (4.0, "Chorus")],
        lyrics=[(0.0, "hel"), (1.0, "lo")],
    )
    path = clip.save(tmp_path / "song.mid")
    back = MidiClip.load(path)
    assert back.track_names == {0: "Choir", 1: "Bass"}
    assert back.key_signatures == [(0.0, "Eb"), (4.0, "Cm")]
    assert back.markers == [(0.0, "Verse"), (4.0, "Chorus")]
    assert back.lyrics == [(0.0, "hel"), (1.0, "lo")]
    assert back.notes == sorted(clip.notes) and back.programs == clip.programs
    # and other programs see them where they look for them
    mid = mido.MidiFile(str(path))
    assert [m.name for m in mid.tracks[1] if m.type == "track_name"] == ["Choir"]
    assert [m.text for m in mid.tracks[1] if m.type == "lyrics"] == ["hel", "lo"]


def test_a_one_hour_note_is_refused_before_any_work(tmp_path):
    path = tmp_path / "hour.mid"
    path.write_bytes(HOUR_NOTE)
    clip = MidiClip.load(path)
    began = time.perf_counter()
    with pytest.raises(RenderTooLong, match=r"lasts 1:00:00; notes longer than 10:00"):
        render_to_file(clip, tmp_path / "hour.wav")
    with pytest.raises(RenderTooLong, match="lasts 1:00:00"):
        render(clip)
    long = MidiClip([Note(i * 100.0, 60, 1.0) for i in range(40)], bpm=120)  # 32.5 minutes
    with pytest.raises(RenderTooLong, match=r"the clip lasts 32:31; rendering stops at 30:00"):
        render_to_file(long, tmp_path / "long.wav")
    assert time.perf_counter() - began < 1.0
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob(".*"))


def test_render_to_file_streams_with_flat_memory(tmp_path):
    clip = MidiClip([Note(0, 48, 150.0), Note(2, 60, 4.0), Note(150, 67, 2.0)], bpm=120)
    tracemalloc.start()
    try:
        seconds = render_to_file(clip, tmp_path / "long.flac", sample_rate=22050)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds == pytest.approx(77.0)
    info = soundfile.info(str(tmp_path / "long.flac"))
    assert info.duration == pytest.approx(77.0) and info.channels == 2
    in_memory = 77 * 22050 * 2 * 4  # what render() would hold: 13.6 MB
    assert peak < in_memory / 4, f"peak {peak / 2**20:.1f} MiB"
    data, _ = soundfile.read(str(tmp_path / "long.flac"), frames=22050 * 5)
    assert 0.8 < abs(data).max() < 0.9  # normalized to -1 dBFS across the blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.flac"]  # no scratch left


def test_midi_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "keep.mid"
    MidiClip([Note(0, 60, 1)]).save(path)
    before = path.read_bytes()

    def broken(self):
        raise OSError("disk full")

    monkeypatch.setattr(MidiClip, "to_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        MidiClip([Note(0, 62, 1)]).save(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "keep.mid"
    ]


@pytest.mark.slow
def test_killed_render_leaves_the_old_file_or_a_complete_new_one(tmp_path):
    midi = tmp_path / "piece.mid"
    MidiClip([Note(i * 2.0, 48 + i % 24, 2.0) for i in range(150)], bpm=120).save(midi)
    out = tmp_path / "existing.wav"
    rng = random.Random(18)
    outcomes = set()
    for _ in range(4):
        out.write_bytes(b"the old render")
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "music", "render", str(midi), "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if out.read_bytes() == b"the old render":
            outcomes.add("old")
        else:
            assert soundfile.info(str(out)).duration == pytest.approx(151.0)
            outcomes.add("new")
        assert out.stat().st_size > 0
    assert outcomes  # each kill left one of the two, never 0 bytes


def test_a_missing_or_unreadable_file_is_a_message_too(tmp_path):
    with pytest.raises(MidiError, match="cannot read .*gone.mid: there is no such file") as err:
        MidiClip.load(tmp_path / "gone.mid")
    assert isinstance(err.value, FileNotFoundError)  # the project says "missing" for it
    with pytest.raises(MidiError, match="Is a directory"):
        MidiClip.load(tmp_path)


def test_fluidsynth_chatter_becomes_our_one_line(tmp_path, capfd):
    midi = MidiClip([Note(0, 60, 1)]).save(tmp_path / "a.mid")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont at all")
    assert (
        main(["music", "render", str(midi), "--soundfont", str(bad), "-o", str(tmp_path / "a.wav")])
        == 1
    )
    (line,) = capfd.readouterr().err.strip().splitlines()  # no "fluidsynth: error:" lines
    # the reason in brackets is FluidSynth's own ("Not a RIFF file" with libinstpatch)
    assert line.startswith("studio: bad.sf2 is not a readable SoundFont")


def test_the_bar_grid_follows_the_meter_changes_of_a_file(tmp_path):
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    meta = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=8 * 480),
            mido.MetaMessage("time_signature", numerator=6, denominator=8, time=6 * 480),
        ]
    )
    notes = mido.MidiTrack()
    for _ in range(18):
        notes += [
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.Message("note_off", note=60, time=480),
        ]
    mid.tracks += [meta, notes]
    mid.save(str(tmp_path / "meters.mid"))
    clip = MidiClip.load(tmp_path / "meters.mid")
    # two bars of 4/4, two of 3/4, then 6/8 (three quarter notes a bar)
    assert clip.bar_starts() == [0.0, 4.0, 8.0, 11.0, 14.0, 17.0]
    assert clip.bars == pytest.approx(5 + 1 / 3)  # the first meter alone said 4.5
    assert clip.bar_at(9.0) == (2, 8.0, 3.0) and clip.bar_at(15.5) == (4, 14.0, 3.0)
    # a change in the middle of a bar starts a new one there
    odd = MidiClip([Note(0, 60, 10)], meter_changes=[(6.0, 3, 4)])
    assert odd.bar_starts() == [0.0, 4.0, 6.0, 9.0] and odd.bar_at(5.0) == (1, 4.0, 4.0)
    assert odd.bars == pytest.approx(2 + 4 / 3)
