"""Euclidean drum patterns.

After Toussaint, "The Euclidean Algorithm Generates Traditional Musical Rhythms" (2005).
"""

from __future__ import annotations

import random
from typing import Any

from studio.plugins.api import Generator, JobContext, MidiClip, Note, Param

# General MIDI percussion keys (channel 10, index 9).
KICK, SNARE, CLOSED_HAT, OPEN_HAT = 36, 38, 42, 46
DRUMS = 9


def euclid(hits: int, steps: int, rotation: int = 0) -> list[bool]:
    """``hits`` onsets spread as evenly as possible over ``steps``, rotated right by ``rotation``.

    Uses the Bresenham form, which gives the same necklaces as Bjorklund's algorithm.
    """
    if steps <= 0:
        raise ValueError("steps must be positive")
    hits = max(0, min(hits, steps))
    pattern = [((i * hits) % steps) < hits for i in range(steps)]
    # Start on an onset, as the canonical Euclidean rhythms do, then apply the rotation.
    if hits:
        first = pattern.index(True)
        pattern = pattern[first:] + pattern[:first]
    rotation %= steps
    return pattern[-rotation:] + pattern[:-rotation] if rotation else pattern


class EuclidDrums(Generator):
    kind = "midi"
    title = "Euclidean drums"
    description = "Kick, snare and hi-hats from Euclidean rhythms."
    params = (
        Param("steps", "int", 16, minimum=2, maximum=32, help="steps per bar"),
        Param("kick_hits", "int", 4, minimum=0, maximum=32),
        Param("snare_hits", "int", 2, minimum=0, maximum=32),
        Param("snare_rotation", "int", 4, minimum=0, maximum=31),
        Param("hat_hits", "int", 8, minimum=0, maximum=32),
        Param("open_hat_hits", "int", 1, minimum=0, maximum=32),
        Param("open_hat_rotation", "int", 14, minimum=0, maximum=31),
        Param("bars", "int", 2, minimum=1, maximum=64),
        Param("bpm", "float", 110.0, label="Tempo (BPM)", minimum=30, maximum=300),
        Param(
            "swing",
            "float",
            0.0,
            minimum=0.0,
            maximum=0.5,
            step=0.05,
            help="delay of every second step, as a fraction of a step",
        ),
        Param(
            "humanize", "float", 0.1, minimum=0.0, maximum=1.0, step=0.05, help="velocity variation"
        ),
        Param("seed", "seed", -1, help="-1 picks a new seed"),
    )

    def run(self, request: dict[str, Any], ctx: JobContext) -> MidiClip:
        steps = request["steps"]
        rng = random.Random(request["seed"])
        step_beats = 4.0 / steps  # one bar of 4/4 divided into `steps`
        voices = [
            (KICK, euclid(request["kick_hits"], steps), 110),
            (SNARE, euclid(request["snare_hits"], steps, request["snare_rotation"]), 100),
            (CLOSED_HAT, euclid(request["hat_hits"], steps), 75),
            (OPEN_HAT, euclid(request["open_hat_hits"], steps, request["open_hat_rotation"]), 80),
        ]
        notes: list[Note] = []
        for bar in range(request["bars"]):
            ctx.check_cancelled()
            for step in range(steps):
                offset = request["swing"] * step_beats if step % 2 else 0.0
                start = bar * 4.0 + step * step_beats + offset
                open_hit = voices[3][1][step]
                for key, pattern, base in voices:
                    if not pattern[step] or (key == CLOSED_HAT and open_hit):
                        continue
                    spread = int(base * request["humanize"] * 0.3)
                    velocity = max(1, min(127, base + rng.randint(-spread, spread)))
                    notes.append(Note(start, key, step_beats * 0.9, velocity, DRUMS))
            ctx.progress((bar + 1) / request["bars"], f"bar {bar + 1}")
        clip = MidiClip(notes=sorted(notes), bpm=request["bpm"], length=request["bars"] * 4.0)
        clip.provenance["seed"] = request["seed"]
        return clip
