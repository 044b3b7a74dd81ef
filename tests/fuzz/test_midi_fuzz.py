"""Fuzzing the MIDI reader: mutated real files, generated event streams and random bytes."""

import struct

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import oracle, targets
from tests.fuzz.mutation import apply_edit, edits


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _seeds() -> list[bytes]:
    from studio.core.media import MidiClip, Note

    clip = MidiClip(
        [Note(i * 0.5, 48 + (i * 7) % 36, 0.5 + (i % 3), 60 + i, i % 4) for i in range(24)]
        + [Note(i * 1.0, 36, 0.25, 100, 9) for i in range(8)],
        bpm=96,
        programs={0: 30, 1: 28, 2: 40},
        tempo_changes=[(4.0, 140.0)],
        meter_changes=[(8.0, 3, 4)],
    )
    track = (
        b"\x00\xff\x03\x04Lead"
        + b"\x00\xff\x59\x02\xfd\x01"  # B-flat minor
        + b"\x00\xff\x51\x03\x07\xa1\x20"
        + b"\x00\xff\x58\x04\x06\x03\x18\x08"
        + b"\x00\xc0\x1c\x00\x90\x3c\x50\x60\x3c\x00"  # running status note off
        + b"\x00\xff\x06\x05Verse\x00\xff\x05\x02la"
        + b"\x00\xf0\x03\x7e\x7f\xf7\x00\xc0\x1e\x00\x90\x40\x50\x83\x60\x80\x40\x00"
        + b"\x00\xff\x2f\x00"
    )
    made = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 96) + b"MTrk" + struct.pack(">I", len(track))
    smpte = bytearray(made + track)
    smpte[12:14] = struct.pack(">H", ((256 - 25) << 8) | 40)
    return [clip.to_bytes(), made + track, bytes(smpte)]


SEEDS = _seeds()

_edit = edits("repeat", 4096, 6)


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for kind, at, blob in draw(st.lists(_edit, max_size=6)):
        at %= max(1, len(data))
        if not apply_edit(data, kind, at, blob):  # repeat
            data[at:at] = data[at : at + 8] * (blob[0] % 16)
    return bytes(data)


_MOSTLY = st.integers(0, 9).map(bool)  # nine in ten: a field that fits the data
_DELTA = st.one_of(st.sampled_from([0, 1, 96, 480, 7200, 0x0FFFFFFF]), st.integers(0, 20_000))
_META = {
    0x51: st.one_of(st.just(b"\x00\x00\x00"), st.binary(min_size=3, max_size=3)),
    0x58: st.binary(min_size=4, max_size=4),
    0x59: st.tuples(st.integers(-128, 127), st.integers(0, 255)).map(
        lambda t: struct.pack(">bB", *t)
    ),
    0x03: st.binary(max_size=40),
    0x05: st.binary(max_size=20),
    0x06: st.binary(max_size=20),
    0x01: st.binary(max_size=20),
    0x2F: st.just(b""),
    0x54: st.binary(min_size=5, max_size=5),
    0x20: st.binary(min_size=1, max_size=1),
}


@st.composite
def event(draw) -> bytes:
    delta = _vlq(draw(_DELTA))
    kind = draw(st.sampled_from(["note", "note", "note", "program", "control", "meta", "sysex"]))
    channel = draw(st.integers(0, 15))
    if kind == "note":
        on = draw(st.booleans())
        return delta + bytes(
            [(0x90 if on else 0x80) | channel, draw(st.integers(0, 127)), draw(st.integers(0, 127))]
        )
    if kind == "program":
        return delta + bytes([0xC0 | channel, draw(st.integers(0, 127))])
    if kind == "control":
        return delta + bytes([0xB0 | channel, draw(st.integers(0, 127)), draw(st.integers(0, 127))])
    if kind == "sysex":
        body = draw(st.binary(max_size=8))
        return delta + b"\xf0" + _vlq(len(body) + 1) + body + b"\xf7"
    meta = draw(st.one_of(st.sampled_from(sorted(_META)), st.integers(0, 0x7F)))
    payload = draw(_META.get(meta, st.binary(max_size=8)))
    length = len(payload) if draw(_MOSTLY) else draw(st.integers(0, 300))
    return delta + bytes([0xFF, meta]) + _vlq(length) + payload


@st.composite
def generated(draw) -> bytes:
    division = draw(
        st.one_of(
            st.sampled_from([0, 1, 96, 480, 0x7FFF, 0xE728, 0xE700, 0xE228, 0x8000, 0xFFFF]),
            st.sampled_from([96, 480, 0xE728]),
            st.integers(0, 0xFFFF),
        )
    )
    tracks = draw(st.lists(st.lists(event(), max_size=40), min_size=1, max_size=4))
    count = len(tracks) if draw(_MOSTLY) else draw(st.integers(0, 0xFFFF))
    out = b"MThd" + struct.pack(">IHHH", 6, draw(st.integers(0, 2)), count, division)
    for events in tracks:
        body = b"".join(events) + (b"\x00\xff\x2f\x00" if draw(st.booleans()) else b"")
        length = len(body) if draw(_MOSTLY) else draw(st.integers(0, 2**32 - 1))
        out += b"MTrk" + struct.pack(">I", length) + body
    return out


MIDI_INPUTS = st.one_of(mutated(), generated(), st.binary(max_size=300))


@given(MIDI_INPUTS)
@example(
    b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x01MTrk\x00\x00\x00\x08"
    b"\x00\x90\x3c\x40\xb8\x20\x3c\x00"
)  # the one-hour note
def test_any_midi_file_ends_in_a_clip_or_a_message(data):
    oracle.check(
        "midi", lambda: targets.midi(data), data, seconds=targets.MIDI_SECONDS,
        mib=targets.MIDI_MIB,
    )  # fmt: skip
