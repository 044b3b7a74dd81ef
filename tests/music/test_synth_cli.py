import os
import subprocess
import sys

import mido
import numpy as np
import pytest
import soundfile

from studio.core.media import MidiClip, Note
from studio.music.synth import render, save_audio


def test_render_makes_sound_of_the_right_length(midi_clip):
    audio = render(midi_clip, sample_rate=22050)
    assert audio.channels == 2 and audio.sample_rate == 22050
    assert audio.duration == pytest.approx(3.9 * 0.5 + 1.0, abs=0.01)  # last note end + 1 s tail
    assert np.abs(audio.samples).max() > 0.5


def test_muted_channel_is_silent():
    clip = MidiClip([Note(0, 60, 1, 100, 0), Note(0, 64, 1, 100, 1)])
    audio = render(clip, volumes={0: 0.0, 1: 0.0}, normalize=False)
    assert np.abs(audio.samples).max() < 1e-3


def test_flac_and_wav_files_open_elsewhere(tmp_path, midi_clip):
    audio = render(midi_clip, sample_rate=16000)
    flac = save_audio(audio, tmp_path / "a.flac")
    data, rate = soundfile.read(str(flac))
    assert rate == 16000 and data.shape == audio.samples.shape
    with pytest.raises(ValueError, match=".wav or .flac"):
        save_audio(audio, tmp_path / "a.mp3")


def test_empty_clip_is_refused():
    with pytest.raises(ValueError, match="no notes"):
        render(MidiClip([]))


def studio(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=300, **kw
    )


def test_cli_generate_infill_harmonize_render(tiny_run, tmp_path):
    model = str(tiny_run[1])
    gen, again = tmp_path / "gen.mid", tmp_path / "again.mid"
    args = [
        "music",
        "generate",
        "--model",
        model,
        "--key",
        "G major",
        "--bars",
        "4",
        "--instruments",
        "choir,choir",
        "--seed",
        "3",
        "-o",
    ]
    out = studio(*args, str(gen))
    assert out.returncode == 0, out.stderr
    assert "key G major, seed 3" in out.stdout
    mid = mido.MidiFile(str(gen))
    assert mid.type == 1 and any(m.type == "note_on" for m in mid)
    assert studio(*args, str(again)).returncode == 0
    assert MidiClip.load(again).notes == MidiClip.load(gen).notes

    infilled = tmp_path / "in.mid"
    out = studio(
        "music", "infill", str(gen), "--bars", "2-3", "--model", model, "-o", str(infilled)
    )
    assert out.returncode == 0, out.stderr
    before, after = MidiClip.load(gen), MidiClip.load(infilled)
    keep = [n for n in before.notes if not 4 <= n.start < 12]
    assert keep == [n for n in after.notes if not 4 <= n.start < 12]

    out = studio(
        "music",
        "harmonize",
        str(gen),
        "--melody-channel",
        "1",
        "--instruments",
        "strings",
        "--model",
        model,
        "--variations",
        "2",
        "-o",
        str(tmp_path / "h.mid"),
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "h-1.mid").exists() and (tmp_path / "h-2.mid").exists()

    wav = tmp_path / "gen.wav"
    out = studio("music", "render", str(gen), "-o", str(wav))
    assert out.returncode == 0, out.stderr
    assert soundfile.info(str(wav)).duration > 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "not a readable MIDI file"),
        (b"garbage", "not a readable MIDI file"),
    ],
)
def test_cli_corrupt_midi_is_one_line(tiny_run, tmp_path, content, message):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(content)
    out = studio(
        "music", "continue", str(bad), "--model", str(tiny_run[1]), "-o", str(tmp_path / "x.mid")
    )
    assert out.returncode == 1 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_midi_without_notes(tiny_run, tmp_path):
    empty = tmp_path / "empty.mid"
    MidiClip([]).save(empty)
    out = studio(
        "music", "harmonize", str(empty), "--model", str(tiny_run[1]), "-o", str(tmp_path / "x.mid")
    )
    assert out.returncode == 1 and "has no notes" in out.stderr


def test_odd_inputs_give_sensible_results(engine, tmp_path):
    from studio.music.engine import MusicRequest

    # 100 tracks, drums only, 7/8, and an hour-long file
    many = mido.MidiFile(type=1)
    for i in range(100):
        track = mido.MidiTrack()
        track.append(
            mido.Message("note_on", channel=i % 16, note=40 + i % 40, velocity=80, time=i * 10)
        )
        track.append(mido.Message("note_off", channel=i % 16, note=40 + i % 40, time=240))
        many.tracks.append(track)
    many.save(str(tmp_path / "many.mid"))
    clip = MidiClip.load(tmp_path / "many.mid")
    assert len({n.channel for n in clip.notes}) == 16
    [out] = engine.run(MusicRequest(mode="continue", clip=clip, bars=1, seed=1))
    assert len(out.notes) >= len(clip.notes)

    drums = MidiClip([Note(i * 0.5, 36 + (i % 3) * 2, 0.25, 100, 9) for i in range(16)])
    [out] = engine.run(MusicRequest(mode="continue", clip=drums, bars=1, seed=1))
    assert {n.channel for n in out.notes} == {9}

    seven = MidiClip(
        [Note(i * 0.5, 60 + i % 5, 0.5) for i in range(14)], beats_per_bar=7, beat_unit=8
    )
    [out] = engine.run(MusicRequest(mode="continue", clip=seven, bars=1, seed=1))
    assert out.notes[: len(seven.notes)] == seven.notes

    hour = MidiClip([Note(i * 1.0, 60 + i % 12, 1.0) for i in range(7200)], bpm=120)
    [out] = engine.run(MusicRequest(mode="infill", clip=hour, bar_range=(900, 900), seed=1))
    assert len(out.notes) > 7000


def test_cli_train_on_an_empty_folder_says_so(tmp_path):
    (tmp_path / "midi").mkdir()
    out = studio(
        "music",
        "corpus",
        "--collections",
        "",
        "--midi",
        str(tmp_path / "midi"),
        "-o",
        str(tmp_path / "c.npz"),
    )
    assert out.returncode == 1
    assert "no music to train on" in out.stderr


def test_cli_corpus_from_user_midi_counts_failures(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(3):
        MidiClip([Note(j, 60 + (i + j) % 7, 1) for j in range(8)]).save(folder / f"{i}.mid")
    (folder / "broken.mid").write_bytes(b"not midi")
    out = studio(
        "music",
        "corpus",
        "--collections",
        "",
        "--midi",
        str(folder),
        "-o",
        str(tmp_path / "c.npz"),
        env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr
    assert "3 pieces" in out.stdout and "1 failed" in out.stdout


def test_cli_eval_prints_the_comparison(tiny_run, tiny_corpus, tmp_path):
    import copy
    import json

    from studio.music.cli import heldout_list_path
    from studio.music.corpus import Corpus, save_corpus

    # Four pieces take ids from the committed held-out list, so the split is the real one.
    held_ids = heldout_list_path().read_text().split()[:4]
    pieces = copy.deepcopy(tiny_corpus.pieces)
    for piece, pid in zip(pieces[20:], held_ids, strict=True):
        piece.piece_id = pid
    corpus = save_corpus(Corpus(pieces), tmp_path / "c.npz")
    out = studio(
        "music",
        "eval",
        "--model",
        str(tiny_run[1]),
        "--corpus",
        str(corpus),
        "--samples",
        "2",
        "--windows",
        "4",
        "--orders",
        "4",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["heldout_pieces"] == 4
    assert "improvement_vs_ngram4_percent" in report and report["in_key_rate_strict"] == 1.0


def test_shipped_model_is_verified_and_composes(tmp_path):
    """The default model from resources/ (sha256 checked against its card) writes a chorale."""
    out = studio(
        "music",
        "generate",
        "--key",
        "A minor",
        "--bars",
        "4",
        "--instruments",
        "choir,choir,choir,choir",
        "--seed",
        "11",
        "-o",
        str(tmp_path / "c.mid"),
    )
    assert out.returncode == 0, out.stderr
    clip = MidiClip.load(tmp_path / "c.mid")
    assert {n.channel for n in clip.notes} == {0, 1, 2, 3}
    assert clip.bars == pytest.approx(4)
    from studio.music.keys import in_key_rate, parse_key

    assert in_key_rate([n.pitch for n in clip.notes], parse_key("A minor")) == 1.0


def test_render_follows_tempo_changes():
    clip = MidiClip([Note(0, 60, 1), Note(4, 62, 1)], bpm=120, tempo_changes=[(2.0, 60.0)])
    assert clip.seconds_at(2.0) == 1.0 and clip.seconds_at(4.0) == 3.0
    audio = render(clip, sample_rate=8000, tail=0.0)
    assert audio.duration == pytest.approx(4.0, abs=0.01)  # 1 s for 2 beats, then 3 beats at 60
    loud = np.abs(audio.samples).max(axis=1)
    assert loud[int(2.9 * 8000) : int(3.0 * 8000)].max() < 0.05  # the rest before the second note
    assert loud[int(3.05 * 8000) : int(3.3 * 8000)].max() > 0.1
