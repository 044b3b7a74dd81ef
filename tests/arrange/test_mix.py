"""The mixdown and exports without Qt: loudness on target, true peak under the ceiling, onsets on
the grid (audio, MIDI, a sung take re-timed after a tempo change), mixed sample rates, missing
files, effects, mute and solo, and exports that leave nothing behind when they fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest
import soundfile

from studio.arrange import export as export_module
from studio.arrange.document import ArrangeDocument, Source, new_id
from studio.arrange.export import ExportError, export_audio, export_stems, export_video
from studio.arrange.mix import integrated_lufs, render_mix, true_peak_db
from studio.core.media import MidiClip, Note
from studio.music.document import Clip

RATE = 44100


def audio(samples, rate=RATE, name="a", sung_bpm=None) -> Source:
    samples = np.asarray(samples, np.float32)
    return Source(new_id(), "audio", name, samples=samples, sample_rate=rate,
                  seconds=len(samples) / rate, sung_bpm=sung_bpm)  # fmt: skip


def clicks(times, seconds, rate=RATE) -> np.ndarray:
    out = np.zeros(int(seconds * rate), np.float32)
    for t in times:
        out[int(t * rate) : int(t * rate) + 150] = 0.8
    return out


def onsets(x: np.ndarray, rate: int, gap: float = 0.2) -> np.ndarray:
    env = np.abs(x).max(axis=1)
    found, last = [], -(10**9)
    for i in np.flatnonzero(env > 0.1 * env.max()):
        if i - last > gap * rate:
            found.append(i)
        last = i
    return np.array(found) / rate


def sine(freq, seconds, rate, amp=0.3):
    t = np.arange(int(seconds * rate)) / rate
    noise = 0.01 * np.random.default_rng(0).standard_normal(len(t))
    return (amp * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.mark.parametrize("target", [-14.0, -20.0])
def test_master_reaches_the_loudness_target_under_the_true_peak_ceiling(target):
    doc = ArrangeDocument(target_lufs=target)
    loud = np.clip(sine(220, 3.0, RATE, 0.9) * 3, -1, 1)  # clipped: a hot, dense source
    doc.add_source(audio(loud), at=0)
    doc.add_source(audio(clicks(np.arange(0, 3, 0.25), 3.0)), at=0)
    result = render_mix(doc)
    assert abs(result.loudness - target) <= 1.0
    assert abs(integrated_lufs(result.audio, RATE) - target) <= 1.0
    assert result.true_peak <= -1.0 + 1e-3
    assert true_peak_db(result.audio, RATE) <= -1.0 + 1e-3


def test_audio_and_midi_onsets_land_within_10_ms_of_the_grid_with_a_tempo_change():
    doc = ArrangeDocument(bpm=120, tempo_changes=((8.0, 90.0),))
    doc.add_source(audio(clicks([0.0, 0.5, 1.0], 1.2)), at=2)
    notes = [Note(b, 72, 0.4, 110, 0) for b in (0, 1, 2, 3)]
    midi = Clip.from_midi(MidiClip(notes=notes, bpm=100, programs={0: 0}))
    doc.add_source(Source(new_id(), "midi", "m", midi=midi), at=8)
    doc.set_lane_effects(doc.lanes[0].id, compress=0.5, low_db=3.0)
    result = render_mix(doc, target_lufs=-14.0)
    expected = [doc.seconds_at(2) + t for t in (0.0, 0.5, 1.0)]
    expected += [doc.seconds_at(8 + b) for b in range(4)]  # at 90 BPM after beat 8
    found = onsets(result.audio, RATE)
    assert len(found) == len(expected)
    assert np.max(np.abs(found - np.array(expected))) < 0.010


def test_a_sung_take_follows_its_melody_when_the_tempo_changes():
    from studio.voice.voices import world

    rate, pitches = 22050, [57, 64, 59, 66, 57, 64]
    freq = np.concatenate([np.full(int(0.5 * rate), 440 * 2 ** ((p - 69) / 12)) for p in pitches])
    phase = np.cumsum(2 * np.pi * freq / rate)
    noise = 0.01 * np.random.default_rng(1).standard_normal(len(phase))
    take = 0.4 * np.sin(phase) + 0.1 * np.sin(2 * phase) + noise  # "sung" at 120 BPM
    doc = ArrangeDocument(bpm=120)
    doc.add_source(audio(take, rate, "sung", sung_bpm=120.0), at=4)
    doc.set_tempo(90)
    result = render_mix(doc, target_lufs=None)
    mono = result.audio.mean(axis=1).astype(np.float64)
    f0, t = world().harvest(mono, RATE, frame_period=1.0, f0_floor=100, f0_ceil=800)
    midi = np.where(f0 > 0, 69 + 12 * np.log2(np.maximum(f0, 1e-9) / 440), np.nan)
    errors = []
    for i in range(1, len(pitches)):
        when = doc.seconds_at(4 + i)  # the note's new start at 90 BPM
        mid = (pitches[i - 1] + pitches[i]) / 2
        window = (t > when - 0.08) & (t < when + 0.08)
        seg, ts = np.nan_to_num(midi[window], nan=mid), t[window]
        cross = np.flatnonzero(np.diff(np.sign(seg - mid)) != 0)
        errors.append(abs(ts[cross[0] + 1] - when) if len(cross) else 1.0)
    assert max(errors) < 0.010, errors
    # the pitch of each note is kept
    middle = doc.seconds_at(4 + 2.5)
    assert np.nanmedian(midi[(t > middle - 0.05) & (t < middle + 0.05)]) == pytest.approx(
        59, abs=0.3
    )


def test_mixed_sample_rates_play_at_their_pitch_and_length():
    doc = ArrangeDocument()
    for rate, freq, lane_at in ((22050, 300.0, 0), (44100, 500.0, 4), (48000, 700.0, 8)):
        doc.add_source(audio(sine(freq, 1.0, rate), rate, f"{rate}"), at=lane_at)
    result = render_mix(doc, target_lufs=None)
    for freq, beat in ((300.0, 0), (500.0, 4), (700.0, 8)):
        a = int(doc.seconds_at(beat) * RATE)
        piece = result.audio[a + 2000 : a + RATE - 2000, 0]
        spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
        peak = np.fft.rfftfreq(len(piece), 1 / RATE)[np.argmax(spectrum)]
        assert peak == pytest.approx(freq, abs=3.0)
        assert np.abs(result.audio[a + int(1.05 * RATE) : a + int(1.9 * RATE)]).max() < 1e-3


def test_a_missing_file_is_a_message_and_the_rest_still_mixes(tmp_path):
    wav = tmp_path / "gone.wav"
    soundfile.write(str(wav), sine(440, 1.0, RATE), RATE)
    doc = ArrangeDocument()
    doc.add_file(wav, at=0)
    doc.add_source(audio(sine(330, 1.0, RATE)), at=0)
    wav.unlink()
    result = render_mix(doc)
    assert any("lane 1" in m and "gone.wav is missing" in m for m in result.messages)
    assert np.abs(result.audio).max() > 0.1
    assert "gone.wav is missing" in doc.missing()[0]


def test_effects_mute_and_solo_change_what_is_heard():
    doc = ArrangeDocument()
    a = doc.add_source(audio(clicks([0.0], 1.0)), at=0).lane
    b = doc.add_source(audio(sine(440, 1.0, RATE)), at=0).lane
    dry = render_mix(doc, target_lufs=None)
    doc.set_lane_effects(a, reverb=1.0, delay=0.5)
    wet = render_mix(doc, target_lufs=None)
    tail = slice(int(1.1 * RATE), int(1.6 * RATE))
    assert np.abs(wet.audio[tail]).max() > 10 * (np.abs(dry.audio[tail]).max() + 1e-6)
    doc.set_lane(b, solo=True)
    solo = render_mix(doc, target_lufs=None, stems=True)
    assert list(solo.stems) == [b]
    doc.set_lane(b, mute=True)
    with pytest.raises(ValueError, match="nothing to mix"):
        render_mix(ArrangeDocument())


def test_exports_write_wav_flac_and_stems_and_a_failure_leaves_nothing(tmp_path, monkeypatch):
    doc = ArrangeDocument()
    doc.add_source(audio(sine(440, 1.0, RATE), name="Lead vocal"), at=0)
    doc.add_source(audio(sine(220, 1.0, RATE), name="Bass"), at=0)
    result = render_mix(doc, stems=True)
    for suffix in (".wav", ".flac"):
        out = export_audio(result, tmp_path / f"mix{suffix}")
        data, rate = soundfile.read(str(out))
        assert rate == RATE and data.shape == result.audio.shape
        with soundfile.SoundFile(str(out)) as f:
            assert json.loads(f.comment)["engine"] == "studio.arrange"  # provenance
    stems = export_stems(result, tmp_path / "stems")
    assert [p.name for p in stems] == ["01-Lead-vocal.wav", "02-Bass.wav"]
    # a failure (a full disk) half way: the old file is kept, no temporary is left
    (tmp_path / "keep.wav").write_bytes(b"old")

    def full(path, *_args):
        path.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_write_audio", full)
    with pytest.raises(OSError):
        export_audio(result, tmp_path / "keep.wav")
    with pytest.raises(OSError):
        export_stems(result, tmp_path / "stems2")
    assert (tmp_path / "keep.wav").read_bytes() == b"old"
    assert not list((tmp_path / "stems2").iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(ExportError):
        export_audio(result, tmp_path / "mix.mp3")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")
def test_music_video_composites_the_video_lane_with_provenance(tmp_path):
    from PIL import Image

    doc = ArrangeDocument(bpm=120)
    doc.add_source(audio(sine(440, 1.5, RATE)), at=0)
    red = np.zeros((36, 64, 3), np.uint8)
    red[..., 0] = 220
    picture = tmp_path / "red.png"
    Image.fromarray(red).save(picture)
    doc.add_file(picture, at=1)  # from 0.5 s
    result = render_mix(doc)
    out = export_video(doc, result, tmp_path / "song.mp4", size=(96, 54), fps=10)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format_tags=comment:format=duration",
            "-of",
            "json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    codecs = sorted(s["codec_name"] for s in info["streams"])
    assert codecs == ["aac", "h264"]
    assert json.loads(info["format"]["tags"]["comment"])["engine"] == "studio.arrange"
    assert float(info["format"]["duration"]) == pytest.approx(result.seconds, abs=0.15)
    frames = _frames(out, 96, 54)
    assert frames[1].mean() < 10  # 0.1 s: before the picture, black
    assert frames[10][..., 0].mean() > 150 and frames[10][..., 1].mean() < 40  # 1.0 s: red
    # a failed export (ffmpeg refuses) leaves no file
    with pytest.raises(ExportError):
        export_video(doc, result, tmp_path / "bad.mp4", size=(0, 0), fps=10)
    assert not (tmp_path / "bad.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _frames(path, w, h):
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def test_a_two_hour_arrangement_is_refused_with_a_message_before_any_work():
    doc = ArrangeDocument()
    clip = doc.add_source(audio(sine(440, 1.0, RATE)), at=0)
    doc.set_clip(clip.id, loop=True)
    doc.trim_clip(clip.id, end=2 * 3600 * 2.0)  # two hours at 120 BPM
    started = time.perf_counter()
    with pytest.raises(ValueError, match="lasts 2:00:00.*loop region"):
        render_mix(doc)
    assert time.perf_counter() - started < 1.0
