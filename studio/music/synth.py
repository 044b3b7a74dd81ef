"""SoundFont synthesis: render a MidiClip to audio with FluidSynth (pyfluidsynth) and the General
MIDI SoundFont that pretty_midi ships (TimGM6mb, GPL-2), or a user .sf2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, AudioClip, MidiClip

__all__ = ["default_soundfont", "render", "SynthUnavailable", "save_audio", "AUDIO_FORMATS"]

AUDIO_FORMATS = (".wav", ".flac")


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


def render(
    clip: MidiClip,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    ctx: JobContext | None = None,
    tail: float = 1.0,
    gain: float = 1.0,
    volumes: dict[int, float] | None = None,
    normalize: bool = True,
) -> AudioClip:
    """Render ``clip`` to stereo float audio. ``volumes`` maps channel -> 0..1 (0 mutes it);
    ``normalize`` scales the peak to -1 dBFS (the GM SoundFont is quiet).

    Raises SynthUnavailable when FluidSynth or the SoundFont is missing, ValueError for an empty
    clip.
    """
    if not clip.notes:
        raise ValueError("the clip has no notes to render")
    ctx = ctx or JobContext()
    fluidsynth = _fluidsynth()
    soundfont = Path(soundfont) if soundfont else default_soundfont()
    if not soundfont.exists():
        raise SynthUnavailable(f"SoundFont {soundfont} does not exist")
    synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain)
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise SynthUnavailable(f"{soundfont.name} is not a readable SoundFont")
        for channel in range(16):
            bank = 128 if channel == DRUM_CHANNEL else 0
            synth.program_select(
                channel, sfid, bank, clip.programs.get(channel, 0) if channel != DRUM_CHANNEL else 0
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
        total = int((clip.seconds_at(clip.length_beats) + tail) * sample_rate)
        out = np.zeros((total, 2), dtype=np.float32)
        cursor = 0
        for i, (time_s, _, kind, channel, pitch) in enumerate(events):
            frame = min(total, int(time_s * sample_rate))
            if frame > cursor:
                out[cursor:frame] = _samples(synth, frame - cursor)
                cursor = frame
            if kind:
                synth.noteon(channel, pitch, velocities.get((time_s, channel, pitch), 90))
            else:
                synth.noteoff(channel, pitch)
            if i % 256 == 0:
                ctx.check_cancelled()
                ctx.progress(cursor / total, "rendering")
        if cursor < total:
            out[cursor:] = _samples(synth, total - cursor)
    finally:
        synth.delete()
    peak = float(np.abs(out).max())
    if normalize and peak > 0:
        out *= 0.891 / peak
    ctx.progress(1.0, "rendered")
    return AudioClip(
        out, sample_rate, provenance={"engine": "fluidsynth", "soundfont": soundfont.name}
    )


def _samples(synth, frames: int) -> np.ndarray:
    raw = synth.get_samples(frames)
    return (np.asarray(raw, dtype=np.float32) / 32768.0).reshape(-1, 2)


def save_audio(audio: AudioClip, path: Path) -> Path:
    """Write WAV (16-bit) or FLAC by the file's suffix. Raises ValueError for another suffix."""
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return audio.save_wav(path)
    if suffix == ".flac":
        import soundfile

        soundfile.write(str(path), audio.samples, audio.sample_rate, format="FLAC")
        return path
    raise ValueError(f"{path.name}: render to .wav or .flac")
