"""The fuzz targets, shared by the hypothesis tests and the corpus of inputs that once failed.

Each takes the raw input (bytes of a MIDI file, the text of a document) and does what a user's
command does with it; :func:`tests.fuzz.oracle.check` judges how it ends. They only use names
that existed before issue 18 where they can, so the same targets measure the old code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Budgets per case, timed under tracemalloc (about 3x slower than a plain run). The inputs are
# at most LONGEST characters, so these are generous for linear code (120 KB of text parses in
# about 2 s plain) and catch quadratic code (20 s plain for 100 KB before the fix) and blow-ups.
MIDI_SECONDS, MIDI_MIB = 10.0, 96.0
TEXT_SECONDS, TEXT_MIB = 15.0, 64.0
LONGEST = 120_000 if os.environ.get("STUDIO_FUZZ") == "fuzz" else 20_000

# What the engines take, whatever the document asks (voices.ENGINE_*: WORLD corrupted its heap
# far outside these).
ENGINE_PITCH, ENGINE_RATE, ENGINE_VOLUME = (-24.0, 24.0), (0.1, 10.0), (0.0, 4.0)

_FOLDER = Path(tempfile.mkdtemp(prefix="studio-fuzz-"))


class OutOfRange(AssertionError):
    """A result that breaks an invariant (a prosody value no engine takes, notes lost)."""


def midi(data: bytes) -> None:
    """Read the bytes as a .mid file (``MidiClip.load``), use what the panels and ``music
    render`` use of it, write it back and read that again."""
    from studio.core.media import MidiClip
    from studio.music import synth

    path = _FOLDER / "case.mid"
    path.write_bytes(data)
    clip = MidiClip.load(path)
    clip.bars  # noqa: B018 - the piano roll and the summary divide by the bar length
    clip.seconds_at(clip.length_beats)
    if hasattr(clip, "bar_at"):  # the bar grid by the meter map (issue 18)
        clip.bar_at(clip.length_beats)
        clip.bar_starts(limit=1000)
    limits = getattr(synth, "check_render_limits", None)
    if limits is not None and clip.notes:
        try:
            limits(clip)
        except synth.RenderTooLong:
            pass  # a message; rendering itself is not fuzzed (FluidSynth's time)
    out = _FOLDER / "back.mid"
    out.write_bytes(clip.to_bytes())
    back = MidiClip.load(out)
    if len(back.notes) != len(clip.notes):
        raise OutOfRange(f"a round trip kept {len(back.notes)} of {len(clip.notes)} notes")


def text(document: str, ssml: bool | None = None) -> None:
    """Parse plain text or SSML as ``voice say`` does, and check every segment asks the engines
    for values they take."""
    from studio.voice.text import parse, readable

    for segment in parse(document, ssml=ssml):
        readable(segment.text, "en_US")
        for name, value, (low, high) in (
            ("pitch", segment.pitch, ENGINE_PITCH),
            ("rate", segment.rate, ENGINE_RATE),
            ("volume", segment.volume, ENGINE_VOLUME),
        ):
            if not low <= value <= high:
                raise OutOfRange(f"a segment asks the engine for {name} {value!r}")
