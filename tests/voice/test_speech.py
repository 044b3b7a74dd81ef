import threading
import time

import numpy as np
import pytest

from studio.core.jobs import Cancelled, JobContext
from studio.testing import RecordingContext
from studio.voice.speech import AudioWriter, SpeechSettings, read_metadata, speak
from studio.voice.voices import VoiceUnavailable, find_voice, list_voices, world


def _f0(audio: np.ndarray, rate: int) -> float:
    pw = world()
    f0, _ = pw.harvest(audio.astype(np.float64), rate, frame_period=5.0, f0_floor=60, f0_ceil=600)
    return float(np.median(f0[f0 > 0]))


def test_voices_list_the_default_piper_voice_with_its_restriction_and_espeak(voice_cache):
    voices = voice_cache.voices()
    default = voices[0]
    assert default.id == "piper:en_US-joe-medium" and default.sample_rate == 22050
    assert "Lessac" in default.restriction and "commercial" in default.restriction
    espeak = [v for v in voices if v.engine == "espeak"]
    assert len(espeak) > 100
    assert {"de", "fr-fr", "ru"} <= {v.language for v in espeak}


def test_speak_streams_clauses_in_order_with_sentence_marks(voice_cache):
    chunks = []
    ctx = RecordingContext()
    text = "Hello there. This is a longer sentence, which is spoken clause by clause, so it starts."
    result = speak(text, SpeechSettings(), ctx, cache=voice_cache, sink=chunks.append)
    assert len(chunks) >= 3  # the long sentence came in clauses
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert [m.text for m in result.marks][0] == "Hello there."
    assert len(result.marks) == 2 and result.marks[1].time > 0.5
    assert result.audio is not None and result.duration == pytest.approx(result.audio.duration)
    assert np.abs(result.audio.samples).max() > 0.1  # real speech, not silence
    assert ctx.reports[-1][0] == 1.0


def test_rate_pitch_and_pauses_change_what_you_hear(voice_cache):
    def say(text, **kw):
        return speak(text, SpeechSettings(variation=0.0, **kw), JobContext(), cache=voice_cache)

    normal = say("The quick brown fox jumps over the lazy dog.", sentence_pause=0.0)
    fast = say("The quick brown fox jumps over the lazy dog.", rate=1.5, sentence_pause=0.0)
    assert fast.duration < normal.duration * 0.8
    high = say("The quick brown fox jumps over the lazy dog.", pitch=5.0, sentence_pause=0.0)
    ratio = _f0(high.audio.samples, 22050) / _f0(normal.audio.samples, 22050)
    assert ratio == pytest.approx(2 ** (5 / 12), rel=0.06)
    brk = say('<speak>One.<break time="1500ms"/>Two.</speak>', sentence_pause=0.0)
    plain = say("<speak>One. Two.</speak>", sentence_pause=0.0)
    assert brk.duration - plain.duration == pytest.approx(1.5, abs=0.2)


def test_espeak_speaks_other_languages_and_an_ssml_voice_switch(voice_cache):
    result = speak(
        "Guten Tag. Es ist 10:30.",
        SpeechSettings(voice="espeak:gmw/de"),
        JobContext(),
        cache=voice_cache,
    )
    assert result.duration > 1.0 and result.voices_used == ["espeak:gmw/de"]
    mixed = speak(
        '<speak>Hello. <voice name="espeak:gmw/de">Guten Tag.</voice></speak>',
        SpeechSettings(),
        JobContext(),
        cache=voice_cache,
    )
    assert mixed.voices_used == ["piper:en_US-joe-medium", "espeak:gmw/de"]


def test_unknown_voice_in_ssml_falls_back_with_a_warning(voice_cache):
    result = speak(
        '<speak><voice name="nobody-at-all">Hi.</voice></speak>',
        SpeechSettings(),
        JobContext(),
        cache=voice_cache,
    )
    assert result.duration > 0.2
    assert any("nobody-at-all" in w for w in result.warnings)


def test_empty_and_unreadable_text_say_so(voice_cache):
    empty = speak("", SpeechSettings(), JobContext(), cache=voice_cache)
    assert empty.duration == 0 and "empty" in empty.warnings[0]
    emoji = speak("😀😀 Hi", SpeechSettings(), JobContext(), cache=voice_cache)
    assert emoji.duration > 0.2 and "emoji" in emoji.warnings[0]


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_export_keeps_text_and_settings_in_the_metadata(voice_cache, tmp_path, suffix):
    import soundfile

    settings = SpeechSettings(rate=1.2)
    text = "Exported words."
    path = tmp_path / f"out{suffix}"
    with AudioWriter(path, 22050, text=text, settings={"rate": 1.2, "voice": "joe"}) as w:
        result = speak(text, settings, JobContext(), cache=voice_cache, sink=w)
    meta = read_metadata(path)
    assert meta["text"] == text and meta["settings"]["rate"] == 1.2
    data, rate = soundfile.read(path)
    assert rate == 22050 and abs(len(data) / rate - result.duration) < 0.05


def test_bad_export_format_and_failed_export_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="export to"):
        AudioWriter(tmp_path / "x.mp3", 22050)
    path = tmp_path / "half.wav"
    with pytest.raises(RuntimeError), AudioWriter(path, 22050) as w:
        w.write(np.zeros(100, np.float32))
        raise RuntimeError("cancelled midway")
    assert not path.exists()


def test_a_book_length_text_streams_and_cancels_fast_with_flat_memory(voice_cache):
    text = "This is one sentence of a very long book, read aloud. " * 3700  # ~200,000 chars
    assert len(text) > 195_000
    ctx = JobContext()
    got = []

    def sink(chunk):
        got.append(len(chunk.samples))
        if len(got) == 6:
            threading.Timer(0.05, ctx.cancel).start()

    began = time.monotonic()
    with pytest.raises(Cancelled):
        speak(text, SpeechSettings(), ctx, cache=voice_cache, sink=sink, keep_seconds=0)
    assert time.monotonic() - began < 15
    assert 6 <= len(got) <= 9  # stopped within a clause or two of the cancel


def test_missing_and_corrupt_voice_files_are_reported(tmp_path):
    folder = tmp_path / "voice"
    folder.mkdir()
    (folder / "broken.onnx").write_bytes(b"not a model")
    (folder / "broken.onnx.json").write_text('{"audio": {"sample_rate": 16000}}')
    (folder / "lonely.onnx").write_bytes(b"x")  # no .json
    voices, problems = list_voices(models_dir=tmp_path)
    assert any("lonely.onnx.json is missing" in p for p in problems)
    broken = find_voice(voices, "broken")
    assert broken.origin == "user" and broken.sample_rate == 16000 and "no card" in broken.licence
    from studio.voice.voices import load_speaker

    with pytest.raises(VoiceUnavailable, match="not a usable ONNX model"):
        load_speaker(broken)
    with pytest.raises(VoiceUnavailable, match="no voice 'klingon-opera'"):
        find_voice(voices, "klingon-opera")


def test_settings_out_of_range_are_refused(voice_cache):
    with pytest.raises(ValueError, match="rate 9"):
        speak("Hi", SpeechSettings(rate=9), JobContext(), cache=voice_cache)
