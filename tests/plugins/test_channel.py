"""The channel between Studio and a plugin worker carries data, never code: every media type
round-trips through JSON and raw buffers; object arrays, unknown types, pickles and malformed or
oversized frames are refused."""

import json
import pickle
import socket
import struct

import numpy as np
import pytest

from studio.core.media import AudioClip, Image, Mask, MidiClip, Note, Scores
from studio.plugins import channel


def _pair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_every_media_type_round_trips_with_arrays_as_raw_bytes():
    clip = MidiClip([Note(0.0, 60, 1.0, 90, 2)], bpm=96.0, programs={2: 40},
                    tempo_changes=[(4.0, 120.0)], meter_changes=[(8.0, 3, 4)],
                    provenance={"seed": 7, "nested": {"a": [1, 2.5, None]}})  # fmt: skip
    image = Image(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    message = {
        "type": "result",
        "value": [clip, image, Mask(np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)),
                  AudioClip(np.zeros((5, 2), np.float32), 22050), Scores({"a": 0.5}, ["t"]),
                  b"\x00\x01", (1, "two"), {3: "int key"}, np.float64(2.5),
                  np.zeros((0, 3), np.int16)],
    }  # fmt: skip
    here, there = _pair()
    channel.send(here, message)
    got = channel.recv(there, deadline=None)["value"]
    assert got[0] == clip and got[0].programs == {2: 40}
    assert isinstance(got[1], Image) and np.array_equal(got[1].pixels, image.pixels)
    assert got[1].pixels.flags.writeable
    assert np.allclose(got[2].alpha, np.linspace(0, 1, 6).reshape(2, 3))
    assert got[3].samples.shape == (5, 2) and got[3].sample_rate == 22050
    assert got[4] == Scores({"a": 0.5}, ["t"])
    assert got[5:9] == [b"\x00\x01", (1, "two"), {3: "int key"}, 2.5]
    assert got[9].shape == (0, 3) and got[9].dtype == np.int16


@pytest.mark.parametrize(
    "value",
    [np.array([object()], dtype=object), lambda: None, object(), {1, 2}],
    ids=["object array", "function", "object", "set"],
)
def test_values_that_could_carry_code_are_refused_when_sent(value):
    here, _ = _pair()
    with pytest.raises(channel.ChannelError, match="cannot be carried"):
        channel.send(here, {"type": "result", "value": value})


def _frame(header: dict, buffers=()) -> bytes:
    body = json.dumps(header).encode()
    out = struct.pack("!II", len(body), len(buffers)) + body
    for buf in buffers:
        out += struct.pack("!Q", len(buf)) + buf
    return out


@pytest.mark.parametrize(
    "raw,message",
    [
        (_frame({"type": "result", "value": {"__nd": 0, "dtype": "|O", "shape": [1]}}, [b"x" * 8]),
         "refused"),
        (_frame({"type": "result", "value": {"__nd": 0, "dtype": "<f4", "shape": [3]}}, [b"x" * 8]),
         "do not match"),
        (_frame({"type": "result", "value": {"__m": "Popen", "f": {}}}), "unknown media type"),
        (_frame({"type": "result", "value": {"__m": "Note", "f": {"pitch": 999}}}), "malformed"),
        (_frame({"no": "type"}), "without a type"),
        (struct.pack("!II", 2**31, 0), "announces"),
        (struct.pack("!II", 3, 0) + b"\x80\x04.", "not JSON"),
    ],
    ids=["object dtype", "short buffer", "unknown type", "bad note", "no type", "huge", "pickle"],
)  # fmt: skip
def test_malformed_frames_are_refused_on_receipt(raw, message):
    here, there = _pair()
    here.sendall(raw)
    with pytest.raises(channel.ChannelError, match=message):
        channel.recv(there, deadline=None)


def test_a_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Evil())
    here, there = _pair()
    here.sendall(struct.pack("!II", len(payload), 0) + payload)
    with pytest.raises(channel.ChannelError):
        channel.recv(there, deadline=None)
    assert not marker.exists()


def test_a_partial_frame_times_out_instead_of_hanging():
    import time

    here, there = _pair()
    here.sendall(struct.pack("!II", 100, 0) + b"{")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        channel.recv(there, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 2
    here.close()
    with pytest.raises(channel.Closed):
        channel.recv(there, deadline=time.monotonic() + 1)
