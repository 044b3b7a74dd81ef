"""studio.testing as a plugin author sees it: sample media of each kind and a fake device."""

import pytest

from studio.core.media import AudioClip, Image, Mask


def test_sample_media_fixtures(midi_clip, image, frame, frame_mask, audio):
    assert len(midi_clip.notes) == 4
    assert isinstance(image, Image) and image.pixels.shape == (48, 64, 3)
    assert isinstance(frame, Image) and isinstance(frame_mask, Mask)
    assert frame.pixels[80, 80].mean() > 200 and frame_mask.alpha[80, 80] == 1.0
    assert isinstance(audio, AudioClip) and audio.duration == pytest.approx(1.0)


def test_fake_device(fake_device):
    from studio.core import devices
    from studio.core.devices import DeviceUnavailable

    assert devices.pick_device("auto") == "cuda"
    fake_device.available = False
    assert devices.pick_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailable, match="cuda"):
        devices.pick_device("cuda")
