import textwrap

import mido

from studio.core.media import MidiClip, Note
from studio.music.playback import MidiPortPlayer, MidiRecorder, midi_ports, slice_clip
from tests.support.null_sound import run_on_null_sound


def test_recorder_turns_keyboard_messages_into_a_clip():
    rec = MidiRecorder(bpm=120)
    clip = rec.feed_all(
        [
            (10.0, mido.Message("note_on", note=60, velocity=90)),
            (10.5, mido.Message("note_off", note=60)),
            (10.5, mido.Message("note_on", note=64, velocity=70)),
            (11.5, mido.Message("note_on", note=64, velocity=0)),  # note-on at 0 is a note-off
            (11.6, mido.Message("control_change", control=64, value=127)),
        ]
    )
    assert clip.notes == [Note(0.0, 60, 1.0, 90), Note(1.0, 64, 2.0, 70)]


def test_port_player_sends_notes_in_order_and_silences_at_the_end():
    sent = []

    class Port:
        def send(self, msg):
            sent.append(msg)

    clip = MidiClip([Note(0, 60, 0.05), Note(0.05, 62, 0.05)], bpm=600, programs={0: 19})
    MidiPortPlayer(Port()).play(clip)
    kinds = [(m.type, getattr(m, "note", None)) for m in sent[:5]]
    assert kinds == [
        ("program_change", None),
        ("note_on", 60),
        ("note_off", 60),
        ("note_on", 62),
        ("note_off", 62),
    ]
    assert sum(1 for m in sent if m.type == "control_change" and m.control == 123) == 16


def test_midi_ports_never_raise():
    outputs, inputs, problem = midi_ports()
    assert isinstance(outputs, list) and isinstance(inputs, list)
    assert problem or outputs is not None


def test_slice_clip_moves_the_selection_to_zero():
    clip = MidiClip([Note(0, 60, 1), Note(4, 62, 1), Note(9, 64, 1)])
    part = slice_clip(clip, 4, 8)
    assert part.notes == [Note(0, 62, 1)] and part.length == 4


def test_audio_player_plays_on_a_null_alsa_device(tmp_path):
    code = textwrap.dedent("""
        import time
        import numpy as np
        from studio.core.media import AudioClip
        from studio.music.playback import AudioPlayer
        ok, why = AudioPlayer.output_available()
        print("available", ok, why)
        player = AudioPlayer()
        player.play(AudioClip(np.zeros((11025, 2), np.float32), 22050), bpm=120)
        deadline = time.time() + 10
        while player.playing and time.time() < deadline:
            time.sleep(0.01)
        print("position", round(player.position, 2), "playing", player.playing)
        player.stop()
    """)
    out = run_on_null_sound(tmp_path, code)
    assert "available True" in out.stdout, out.stdout + out.stderr
    assert "position 1.0 playing False" in out.stdout  # 0.5 s at 120 BPM is one beat
