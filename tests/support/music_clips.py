"""MIDI clips the music tests build in code (no data files needed)."""

from __future__ import annotations

from studio.core.media import MidiClip, Note


def melody(bars: int = 4, shift: int = 0, step: float = 1.0) -> MidiClip:
    """A C major scale run up and round on a flute, ``step`` beats a note, in 4/4."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    notes, t, i = [], 0.0, 0
    while t < bars * 4:
        notes.append(Note(t, scale[i % 8] + shift, step, 90, 0))
        t += step
        i += 1
    return MidiClip(notes, bpm=100.0, programs={0: 73}, length=bars * 4.0)
