"""Fuzzing what reaches the voice engines: any pitch, rate and volume (extremes, NaN, infinity)
gives finite audio from the WORLD pitch shifter (the speakers clip it after) and finite audio in
range from eSpeak NG. Before the clamps
a pitch of +1000 semitones corrupted WORLD's heap (exit 134), so a regression here does not fail
politely: it takes the test process down, which is the point."""

import math

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import oracle

_EXTREMES = st.sampled_from([0.0, -0.0, 1e-9, 24.0, -24.0, 1000.0, -1000.0, 1e300, math.inf,
                             -math.inf, math.nan])  # fmt: skip
_VALUE = st.one_of(_EXTREMES, st.floats(-2000, 2000, allow_nan=False))

_RATE = 22050
_TIME = np.arange(int(0.25 * _RATE)) / _RATE
_VOICED = (0.3 * np.sin(2 * np.pi * 140 * _TIME) * (1 + 0.3 * np.sin(6 * np.pi * _TIME))).astype(
    np.float32
)


def _finite_in_range(audio: np.ndarray, peak: float = 1.0) -> None:
    if not np.isfinite(audio).all() or np.abs(audio).max(initial=0.0) > peak + 1e-6:
        raise AssertionError("the engine gave audio that is not finite or out of range")


@given(_VALUE)
@example(1000.0)
@example(60 * 12.0)
def test_the_pitch_shifter_takes_any_pitch(semitones):
    from studio.voice.voices import shift_pitch

    oracle.check(
        "engine-world", lambda: _finite_in_range(shift_pitch(_VOICED, _RATE, semitones), 4.0),
        repr(semitones), seconds=10.0, mib=64.0,
    )  # fmt: skip


@given(_VALUE, _VALUE, _VALUE)
@example(1000.0, 1.0, 1.0)
def test_espeak_takes_any_prosody(pitch, rate, volume):
    from studio.voice.voices import VoiceInfo, load_speaker

    info = VoiceInfo("espeak:en-us", "espeak", "en-us", "en-us", "formant", 22050, "GPL")
    speaker = load_speaker(info)
    oracle.check(
        "engine-espeak",
        lambda: _finite_in_range(speaker.synthesize("Hi there.", pitch=pitch, rate=rate,
                                                    volume=volume)),
        repr((pitch, rate, volume)), seconds=10.0, mib=64.0,
    )  # fmt: skip
