import pytest

from studio.core.devices import DeviceUnavailable, describe_device, pick_device


def test_cpu_is_always_available():
    assert pick_device("cpu") == "cpu"


def test_auto_picks_the_best_available(monkeypatch):
    monkeypatch.setattr("studio.core.devices.available_devices", lambda: ["cuda", "cpu"])
    assert pick_device("auto") == "cuda"
    monkeypatch.setattr("studio.core.devices.available_devices", lambda: ["cpu"])
    assert pick_device("auto") == "cpu"


def test_environment_overrides_preference(monkeypatch):
    monkeypatch.setattr("studio.core.devices.available_devices", lambda: ["cuda", "cpu"])
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert pick_device("cuda") == "cpu"


def test_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("studio.core.devices.available_devices", lambda: ["cpu"])
    with pytest.raises(DeviceUnavailable, match="'cuda' is not available"):
        pick_device("cuda")
    monkeypatch.setenv("STUDIO_DEVICE", "tpu")
    with pytest.raises(DeviceUnavailable, match="unknown device"):
        pick_device()


def test_cpu_description_names_threads():
    assert describe_device("cpu").startswith("CPU: ")
    assert "thread" in describe_device("cpu")
