"""A rule-based melody sketch: a seeded random walk through a scale, phrased in bars.

Not the neural composer (that is the transformer's job); a fast, dependable generator that always
works, ends phrases on the tonic, and gives the voice panel something to sing.
"""

from __future__ import annotations

import random
from typing import Any

from studio.plugins.api import Generator, JobContext, MidiClip, Note, Param

__all__ = ["ScaleMelodyGenerator", "SCALES", "KEYS"]

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}
KEYS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class ScaleMelodyGenerator(Generator):
    kind = "midi"
    title = "Scale melody"
    description = "Seeded melodic random walk in a key and scale."
    params = (
        Param("key", "choice", "C", choices=KEYS),
        Param("scale", "choice", "major", choices=tuple(SCALES)),
        Param("bars", "int", 4, minimum=1, maximum=64),
        Param("bpm", "float", 100.0, label="Tempo (BPM)", minimum=30, maximum=300),
        Param("octave", "int", 4, minimum=2, maximum=6),
        Param("rest_chance", "float", 0.1, minimum=0.0, maximum=0.9, step=0.05),
        Param("seed", "seed", -1, help="-1 picks a new seed each time"),
    )

    def run(self, request: dict[str, Any], ctx: JobContext) -> MidiClip:
        rng = random.Random(request["seed"])
        steps = SCALES[request["scale"]]
        tonic = 12 * (request["octave"] + 1) + KEYS.index(request["key"])
        degree = 0
        notes: list[Note] = []
        bars = request["bars"]
        durations = (0.5, 0.5, 1.0, 1.0, 1.0, 2.0)
        for bar in range(bars):
            ctx.check_cancelled()
            beat = 0.0
            last_bar = bar == bars - 1
            while beat < 4.0:
                dur = min(rng.choice(durations), 4.0 - beat)
                if last_bar and beat + dur >= 4.0:
                    degree = 0 if abs(degree) < len(steps) else len(steps) * (degree // len(steps))
                elif beat > 0 and rng.random() < request["rest_chance"]:
                    beat += dur
                    continue
                else:
                    degree = max(
                        -len(steps),
                        min(2 * len(steps), degree + rng.choice((-2, -1, -1, 1, 1, 2, 0, 3, -3))),
                    )
                octave, index = divmod(degree, len(steps))
                pitch = max(0, min(127, tonic + 12 * octave + steps[index]))
                velocity = 100 if beat == 0 else rng.randint(70, 92)
                notes.append(Note(bar * 4.0 + beat, pitch, dur * 0.95, velocity))
                beat += dur
            ctx.progress((bar + 1) / bars, f"bar {bar + 1} of {bars}")
        clip = MidiClip(notes=notes, bpm=request["bpm"], programs={0: 0}, length=bars * 4.0)
        clip.provenance.update({"engine": "studio/scale-melody", "seed": request["seed"]})
        return clip
