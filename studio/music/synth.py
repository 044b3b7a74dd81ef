"""SoundFont synthesis: render a MidiClip to audio with FluidSynth (pyfluidsynth) and the General
MIDI SoundFont that pretty_midi ships (TimGM6mb, GPL-2), or a user .sf2.

Limits are checked before any work (:func:`check_render_limits`): a clip longer than
``max_seconds`` or holding a note longer than :data:`MAX_NOTE_SECONDS` is refused with a message
that says so (a 30-byte file can hold a one-hour note). :func:`render` keeps the audio in memory
(for playback); :func:`render_to_file` streams it to disk in blocks of :data:`BLOCK_SECONDS`, so its
memory stays flat however long the piece, and writes atomically.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, AudioClip, MidiClip

__all__ = [
    "default_soundfont",
    "render",
    "render_to_file",
    "check_render_limits",
    "RenderTooLong",
    "SynthUnavailable",
    "save_audio",
    "AUDIO_FORMATS",
    "MAX_RENDER_SECONDS",
    "MAX_MEMORY_RENDER_SECONDS",
    "MAX_NOTE_SECONDS",
]

AUDIO_FORMATS = (".wav", ".flac")
MAX_RENDER_SECONDS = 30 * 60.0  # render_to_file's default: about 300 MB of 16-bit stereo WAV
MAX_MEMORY_RENDER_SECONDS = 15 * 60.0  # render() keeps float32 stereo: about 320 MB at 44.1 kHz
MAX_NOTE_SECONDS = 10 * 60.0  # longer is a broken file (a note-off lost), not music
BLOCK_SECONDS = 1.0


class RenderTooLong(ValueError):
    """The clip is longer than the render limit, or holds a note longer than
    :data:`MAX_NOTE_SECONDS`; the message says which and by how much."""


class SynthUnavailable(RuntimeError):
    """FluidSynth or the SoundFont is missing; the message says how to install it."""


def default_soundfont() -> Path:
    """The General MIDI SoundFont shipped inside pretty_midi."""
    try:
        import pretty_midi
    except ImportError as exc:
        raise SynthUnavailable(
            "pretty_midi is not installed (it carries the default SoundFont)"
        ) from exc
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.exists():
        raise SynthUnavailable(f"the default SoundFont is missing at {path}")
    return path


def _fluidsynth():
    import contextlib
    import io

    try:
        # pyfluidsynth prints where it found the library when CI is set: keep our stdout clean
        # (``--json`` output, piped MIDI).
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError) as exc:
        raise SynthUnavailable(
            "FluidSynth is not available: install Debian's libfluidsynth3 "
            "(sudo apt-get install -y libfluidsynth3) and pyfluidsynth"
        ) from exc
    if not hasattr(fluidsynth, "Synth"):
        raise SynthUnavailable("FluidSynth's library could not be loaded: install libfluidsynth3")
    return fluidsynth


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Capture what C libraries (FluidSynth, glib) print to the process's stderr while the block
    runs; the lines are in the yielded list afterwards. Our own message says what went wrong, so
    their chatter is dropped or quoted, never printed before it."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded, pytest capture): nothing to hide
        yield lines
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(64 * 1024).decode("utf-8", "replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _library_reason(lines: list[str]) -> str:
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return ""


def _clock(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def check_render_limits(
    clip: MidiClip,
    max_seconds: float = MAX_RENDER_SECONDS,
    max_note_seconds: float = MAX_NOTE_SECONDS,
    tail: float = 1.0,
) -> float:
    """The length in seconds ``clip`` renders to (with ``tail``). Raises ValueError for an empty
    clip and :class:`RenderTooLong` naming the longest note or the length when over a limit."""
    if not clip.notes:
        raise ValueError("the clip has no notes to render")
    longest = max(clip.notes, key=lambda n: clip.seconds_at(n.end) - clip.seconds_at(n.start))
    note_seconds = clip.seconds_at(longest.end) - clip.seconds_at(longest.start)
    if note_seconds > max_note_seconds:
        raise RenderTooLong(
            f"a note (pitch {longest.pitch}, channel {longest.channel + 1}, beat "
            f"{longest.start:g}) lasts {_clock(note_seconds)}; notes longer than "
            f"{_clock(max_note_seconds)} are not rendered (a lost note-off?)"
        )
    seconds = clip.seconds_at(clip.length_beats) + max(0.0, tail)
    if not seconds <= max_seconds:
        raise RenderTooLong(
            f"the clip lasts {_clock(seconds)}; rendering stops at {_clock(max_seconds)} "
            "(raise the limit with --max-minutes)"
        )
    return seconds


def _blocks(
    clip: MidiClip,
    soundfont: Path | None,
    sample_rate: int,
    ctx: JobContext,
    tail: float,
    gain: float,
    volumes: dict[int, float] | None,
    max_seconds: float,
):
    """Yield the stereo float32 audio of ``clip`` in blocks of at most BLOCK_SECONDS."""
    seconds = check_render_limits(clip, max_seconds, tail=tail)
    fluidsynth = _fluidsynth()
    soundfont = Path(soundfont) if soundfont else default_soundfont()
    if not soundfont.exists():
        raise SynthUnavailable(f"SoundFont {soundfont} does not exist")
    with _captured_stderr() as chatter:
        synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain)
    try:
        with _captured_stderr() as chatter:
            sfid = synth.sfload(str(soundfont))
            if sfid >= 0:
                for channel in range(16):
                    bank = 128 if channel == DRUM_CHANNEL else 0
                    program = clip.programs.get(channel, 0) if channel != DRUM_CHANNEL else 0
                    synth.program_select(channel, sfid, bank, program)
        if sfid < 0:
            reason = _library_reason(chatter)
            raise SynthUnavailable(
                f"{soundfont.name} is not a readable SoundFont" + (f" ({reason})" if reason else "")
            )
        volumes = volumes or {}
        events: list[tuple[float, int, int, int, int]] = []  # time, order, kind, channel, pitch/vel
        velocities = {}
        for n in clip.notes:
            vol = volumes.get(n.channel, 1.0)
            if vol <= 0:
                continue
            velocity = max(1, min(127, int(round(n.velocity * vol))))
            on, off = clip.seconds_at(n.start), clip.seconds_at(n.end)  # follows tempo changes
            events.append((on, 1, 1, n.channel, n.pitch))
            events.append((off, 0, 0, n.channel, n.pitch))
            velocities[(on, n.channel, n.pitch)] = velocity
        events.sort()
        total = int(seconds * sample_rate)
        block = max(1, int(BLOCK_SECONDS * sample_rate))
        cursor = 0

        def until(frame: int):
            nonlocal cursor
            while cursor < frame:
                count = min(block, frame - cursor)
                yield _samples(synth, count)
                cursor += count
                ctx.check_cancelled()
                ctx.progress(cursor / total, "rendering")

        for i, (time_s, _, kind, channel, pitch) in enumerate(events):
            yield from until(min(total, int(time_s * sample_rate)))
            if kind:
                synth.noteon(channel, pitch, velocities.get((time_s, channel, pitch), 90))
            else:
                synth.noteoff(channel, pitch)
            if i % 256 == 0:
                ctx.check_cancelled()
        yield from until(total)
    finally:
        synth.delete()


def render(
    clip: MidiClip,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    ctx: JobContext | None = None,
    tail: float = 1.0,
    gain: float = 1.0,
    volumes: dict[int, float] | None = None,
    normalize: bool = True,
    max_seconds: float = MAX_MEMORY_RENDER_SECONDS,
) -> AudioClip:
    """Render ``clip`` to stereo float audio in memory. ``volumes`` maps channel -> 0..1 (0 mutes
    it); ``normalize`` scales the peak to -1 dBFS (the GM SoundFont is quiet).

    Raises SynthUnavailable when FluidSynth or the SoundFont is missing, ValueError for an empty
    clip, RenderTooLong past ``max_seconds`` or for a note longer than MAX_NOTE_SECONDS (before
    any work). For long pieces use :func:`render_to_file`.
    """
    ctx = ctx or JobContext()
    seconds = check_render_limits(clip, max_seconds, tail=tail)
    soundfont = Path(soundfont) if soundfont else default_soundfont()
    out = np.zeros((int(seconds * sample_rate), 2), dtype=np.float32)
    at = 0
    for piece in _blocks(clip, soundfont, sample_rate, ctx, tail, gain, volumes, max_seconds):
        out[at : at + len(piece)] = piece
        at += len(piece)
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if normalize and peak > 0:
        out *= 0.891 / peak
    ctx.progress(1.0, "rendered")
    return AudioClip(
        out, sample_rate, provenance={"engine": "fluidsynth", "soundfont": soundfont.name}
    )


def render_to_file(
    clip: MidiClip,
    path: Path,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    ctx: JobContext | None = None,
    tail: float = 1.0,
    gain: float = 1.0,
    volumes: dict[int, float] | None = None,
    normalize: bool = True,
    max_seconds: float = MAX_RENDER_SECONDS,
) -> float:
    """Render ``clip`` to ``path`` (16-bit WAV or FLAC by suffix), block by block: memory stays
    flat whatever the length. With ``normalize`` the blocks go to a float scratch file first and
    are scaled to a -1 dBFS peak on the way into ``path``. The file replaces ``path`` only when
    it is complete (an error, a cancel or a kill leaves what was there; the scratch file is
    removed). Returns the length in seconds.

    Raises ValueError for another suffix or an empty clip, RenderTooLong over the limits (before
    any work), SynthUnavailable, OSError when the folder can't be written.
    """
    import secrets

    import soundfile

    from studio.core.atomic import atomic_path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_FORMATS:
        raise ValueError(f"{path.name}: render to .wav or .flac")
    ctx = ctx or JobContext()
    check_render_limits(clip, max_seconds, tail=tail)
    soundfont = Path(soundfont) if soundfont else default_soundfont()
    fmt = "WAV" if suffix == ".wav" else "FLAC"
    frames = 0
    blocks = _blocks(clip, soundfont, sample_rate, ctx, tail, gain, volumes, max_seconds)
    with atomic_path(path) as temp:
        with soundfile.SoundFile(str(temp), "w", sample_rate, 2, format=fmt, subtype="PCM_16") as f:
            if not normalize:
                for piece in blocks:
                    f.write(np.clip(piece, -1.0, 1.0))
                    frames += len(piece)
            else:
                # the same hidden-temporary name pattern as studio.core.atomic
                scratch = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp.f32")
                try:
                    peak = 0.0
                    with open(scratch, "wb") as raw:
                        for piece in blocks:
                            peak = max(peak, float(np.abs(piece).max(initial=0.0)))
                            piece.astype(np.float32).tofile(raw)
                            frames += len(piece)
                    scale = 0.891 / peak if peak > 0 else 1.0
                    block = max(1, int(BLOCK_SECONDS * sample_rate)) * 2
                    with open(scratch, "rb") as raw:
                        while True:
                            piece = np.fromfile(raw, dtype=np.float32, count=block)
                            if not len(piece):
                                break
                            f.write(np.clip(piece.reshape(-1, 2) * scale, -1.0, 1.0))
                finally:
                    scratch.unlink(missing_ok=True)
    ctx.progress(1.0, "rendered")
    return frames / sample_rate


def _samples(synth, frames: int) -> np.ndarray:
    raw = synth.get_samples(frames)
    return (np.asarray(raw, dtype=np.float32) / 32768.0).reshape(-1, 2)


def save_audio(audio: AudioClip, path: Path) -> Path:
    """Write WAV (16-bit) or FLAC by the file's suffix, atomically (an error or a kill leaves the
    file that was there). Raises ValueError for another suffix."""
    from studio.core.atomic import atomic_path

    suffix = path.suffix.lower()
    if suffix not in AUDIO_FORMATS:
        raise ValueError(f"{path.name}: render to .wav or .flac")
    with atomic_path(path) as temp:
        if suffix == ".wav":
            audio.save_wav(temp)
        else:
            import soundfile

            soundfile.write(str(temp), audio.samples, audio.sample_rate, format="FLAC")
    return path
