"""Image fixtures: the sample photo and a tiny random diffusers pipeline built once per session."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo():
    """scikit-image's astronaut: a 512x512 RGB photograph of a person (public domain)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from studio.image.tiny_diffusion import make_tiny_pipeline

    return make_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture
def decoded(monkeypatch):
    """The files a picture folder's reader decodes, in order (the reader is the real one)."""
    from studio.image import folder as folder_mod

    seen = []
    real = folder_mod.read_rgb

    def counting(path, size):
        seen.append(path)
        return real(path, size)

    monkeypatch.setattr(folder_mod, "read_rgb", counting)
    return seen
