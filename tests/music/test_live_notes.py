"""Notes heard while they are written: the engine hands each note to a listener as soon as it is
chosen, a live player sounds it, and none of that changes what is generated."""

import subprocess
import sys
import textwrap

from studio.core.media import MidiClip, Note
from studio.music.engine import MusicRequest
from studio.testing import RecordingContext
from tests.support.null_sound import run_on_null_sound


class Recorder:
    """A NoteListener that writes down what it hears and when (in partial bars)."""

    def __init__(self, ctx: RecordingContext) -> None:
        self.ctx = ctx
        self.begun: list[tuple[float, dict]] = []
        self.started: list[tuple[Note, int]] = []  # note, bars already handed out as partials
        self.final: dict[tuple, Note] = {}

    def begin(self, bpm, programs):
        self.begun.append((bpm, dict(programs)))

    def note_started(self, note):
        self.started.append((note, len(self.ctx.partials)))

    def bar_written(self, channel, start, end, notes):
        for key in [k for k in self.final if k[0] == channel and start <= k[2] < end]:
            del self.final[key]
        for n in notes:
            assert n.channel == channel and start <= n.start < end
            self.final[(n.channel, n.pitch, round(n.start, 6))] = n


def sig(notes):
    return sorted((n.start, n.pitch, n.duration, n.channel, n.velocity) for n in notes)


def test_generate_hands_out_each_note_before_its_bar_and_writes_the_same_music(engine):
    def request(**kw):
        return MusicRequest(bars=3, instruments=[0, 32], key="D minor", seed=11, **kw)

    [plain] = engine.run(request())
    ctx = RecordingContext()
    heard = Recorder(ctx)
    [live] = engine.run(request(listener=heard), ctx)
    assert sig(live.notes) == sig(plain.notes)  # listening changes nothing
    assert heard.begun and heard.begun[0][0] == plain.bpm
    # the first note is handed out before the first bar is written, with its pitch, velocity
    # and channel final
    first, partials = heard.started[0]
    assert partials == 0
    assert (first.start, first.pitch, first.velocity, first.channel) in {
        (n.start, n.pitch, n.velocity, n.channel) for n in plain.notes
    }
    # every note of the result was heard, with its final length once its bar was written
    assert sig(heard.final.values()) == sig(plain.notes)
    started = {(n.channel, n.pitch, round(n.start, 6)) for n, _ in heard.started}
    assert set(heard.final) <= started


def test_continue_hands_out_only_the_new_notes_and_writes_the_same_music(engine):
    seed = MidiClip([Note(i * 1.0, 60 + (0, 4, 7, 12)[i % 4], 1.0) for i in range(8)])

    def request(**kw):
        return MusicRequest(mode="continue", clip=seed, bars=2, seed=4, **kw)

    [plain] = engine.run(request())
    ctx = RecordingContext()
    heard = Recorder(ctx)
    [live] = engine.run(request(listener=heard), ctx)
    assert sig(live.notes) == sig(plain.notes)
    new = [n for n in plain.notes if n.start >= 8.0]
    assert new and sig(heard.final.values()) == sig(new)
    assert all(n.start >= 8.0 for n, _ in heard.started)
    assert heard.started[0][1] == 0  # before the first new bar was handed out


def test_only_the_first_variation_is_heard_and_warming_changes_nothing(engine):
    req = MusicRequest(bars=2, instruments=[0], seed=3, variations=2)
    [a, b] = engine.run(req)
    heard = Recorder(RecordingContext())
    engine.sampler._memo.clear()
    engine.warm(MusicRequest(bars=2, instruments=[0]))
    assert engine.sampler._memo  # the header, track and first Bar are ready
    [c, d] = engine.run(MusicRequest(bars=2, instruments=[0], seed=3, variations=2, listener=heard))
    assert (sig(c.notes), sig(d.notes)) == (sig(a.notes), sig(b.notes))
    assert sig(heard.final.values()) == sig(a.notes)


def test_a_new_generation_silences_the_last_ones_late_notes():
    from studio.music.playback import LivePlayer

    class Player(LivePlayer):
        def __init__(self):
            super().__init__()
            self.got = []

        def note_started(self, note):
            self.got.append(note.pitch)

    player = Player()
    player.reset()
    old = player.listener()
    player.reset()  # the next Generate, while the cancelled job writes one more note
    new = player.listener()
    old.note_started(Note(0.0, 60, 1.0))
    new.note_started(Note(0.0, 62, 1.0))
    assert player.got == [62]


def test_live_player_sounds_the_first_note_in_the_next_block(tmp_path):
    """On ALSA's null device (no sound card here), paced like a real one."""
    code = textwrap.dedent("""
        import time
        from studio.core.media import Note
        from studio.music.playback import LivePlayer
        player = LivePlayer(paced=True)
        print("prepared", player.prepare(), player.problem)
        player.reset()
        player.begin(240.0, {0: 0})
        t0 = time.perf_counter()
        player.note_started(Note(8.0, 60, 4.0, 90, 0))
        player.note_started(Note(8.5, 64, 3.5, 90, 0))
        player.bar_written(0, 8.0, 12.0, [Note(8.0, 60, 0.5, 90, 0), Note(8.5, 67, 0.5, 90, 0)])
        player.finish()
        deadline = time.time() + 10
        while player.playing and time.time() < deadline:
            time.sleep(0.01)
        print("first", round((player.first_heard - t0) * 1000), "heard", player.notes_heard)
        print("position", player.position >= 9.0, "playing", player.playing)
        player.close()
    """)
    out = run_on_null_sound(tmp_path, code)
    assert "prepared True" in out.stdout, out.stdout + out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("first"))
    first_ms, heard = int(line.split()[1]), int(line.split()[3])
    # within two 2.9 ms blocks and the output latency (generous: the machine is shared)
    assert 0 <= first_ms < 200, line
    assert heard == 2  # the note dropped when its bar was written (64) never sounded; 67 did
    assert "position True playing False" in out.stdout, out.stdout


def test_live_player_without_an_output_says_so(tmp_path):
    code = textwrap.dedent("""
        from studio.core.media import Note
        from studio.music.playback import AudioPlayer, LivePlayer
        AudioPlayer.output_available = staticmethod(lambda: (False, "no audio output device"))
        player = LivePlayer()
        print("prepared", player.prepare())
        print("problem", player.problem)
        player.begin(120.0, {})
        player.note_started(Note(0.0, 60, 1.0))
        print("playing", player.playing)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "prepared False" in out.stdout, out.stdout + out.stderr
    assert "no audio output device" in out.stdout and "Render" in out.stdout
    assert "playing False" in out.stdout
