"""pytest plugin: offline, isolated tests.

- Qt runs offscreen (set before anything imports Qt).
- Every test gets its own XDG config, data, cache and state folders, so nothing touches the user's
files.
- A socket guard fails any test that opens a network connection (Unix sockets stay allowed).
"""

from __future__ import annotations

import os
import socket

import pytest

from studio.testing import (
    FakeDevice,
    RecordingContext,
    sample_audio,
    sample_frame,
    sample_image,
    sample_mask,
    sample_midi_clip,
)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


class NetworkAccessError(RuntimeError):
    """A test tried to reach the network; Studio must work offline."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if self.family == getattr(socket, "AF_UNIX", None):
            return real(self, address, *args, **kwargs)
        raise NetworkAccessError(f"test tried to open a network connection to {address!r}")

    return connect


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda address, *a, **k: (_ for _ in ()).throw(
            NetworkAccessError(f"test tried to open a network connection to {address!r}")
        ),
    )
    yield


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    """Fresh XDG folders for each test; returns a dict of their paths."""
    root = tmp_path_factory.mktemp("xdg")
    dirs = {}
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        path = root / name.lower()
        path.mkdir()
        monkeypatch.setenv(f"XDG_{name}_HOME", str(path))
        dirs[name.lower()] = path
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    return dirs


@pytest.fixture
def recording_context() -> RecordingContext:
    return RecordingContext()


@pytest.fixture
def midi_clip():
    return sample_midi_clip()


@pytest.fixture
def image():
    """A small RGB picture (an Image)."""
    return sample_image()


@pytest.fixture
def frame():
    """A video frame with a 'person' in it; ``frame_mask`` is the right answer."""
    return sample_frame()


@pytest.fixture
def frame_mask():
    return sample_mask()


@pytest.fixture
def audio():
    """One second of a soft 440 Hz tone (an AudioClip)."""
    return sample_audio()


@pytest.fixture
def fake_device(monkeypatch):
    """A CUDA device that is there (``fake_device.available = False`` to take it away):
    ``studio.core.devices.pick_device`` answers with it."""
    device = FakeDevice("cuda", True)
    monkeypatch.setattr("studio.core.devices.pick_device", device.pick)
    return device


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
