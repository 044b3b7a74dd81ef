import tomllib

import pytest

from studio.core.settings import (
    SCHEMA_VERSION,
    Settings,
    load_settings,
    migrate,
    save_settings,
    settings_path,
)


def test_settings_live_under_xdg_config_home(isolated_dirs):
    assert settings_path() == isolated_dirs["config"] / "studio" / "settings.toml"


def test_missing_file_gives_defaults():
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.messages == []


def test_round_trip_keeps_every_field():
    s = Settings(
        device="cpu",
        torch_threads=3,
        user_model_dir="/m",
        library_folders=["/a", "/b"],
        theme="dark",
        disabled_plugins=["x"],
    )
    path = save_settings(s)
    assert load_settings(path).settings == s
    with open(path, "rb") as fh:
        assert tomllib.load(fh)["schema_version"] == SCHEMA_VERSION


def test_schema_1_file_is_migrated_and_rewritten():
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        'schema_version = 1\nuse_gpu = false\nmodels_folder = "/old/models"\ntheme = "dark"\n'
    )
    loaded = load_settings()
    assert loaded.settings.device == "cpu"
    assert loaded.settings.user_model_dir == "/old/models"
    assert loaded.settings.theme == "dark"
    assert "upgraded" in loaded.messages[0]
    assert "schema_version = 1" in (path.parent / "settings.toml.schema-1").read_text()
    with open(path, "rb") as fh:
        assert tomllib.load(fh)["schema_version"] == SCHEMA_VERSION


def test_migrate_v1_gpu_true_means_auto():
    assert migrate({"use_gpu": True})["device"] == "auto"


@pytest.mark.parametrize(
    "content, reason",
    [
        ("this is [not toml", "not valid TOML"),
        ("schema_version = 99\n", "newer Studio"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nests values more than 32 levels deep"),
        ("a" + ".b" * 100_000 + " = 1\n", "dotted key of more than 32 parts"),
        ("schema_version = 'two'\n", "schema_version 'two' is not a whole number"),
    ],
)
def test_an_unreadable_file_gives_defaults_and_is_left_as_it_is(content, reason):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert len(loaded.messages) == 1
    assert reason in loaded.messages[0] and "using the defaults" in loaded.messages[0]
    assert path.read_text() == content  # never rewritten silently
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]


def test_an_invalid_value_is_named_and_only_it_falls_back():
    path = settings_path()
    path.parent.mkdir(parents=True)
    content = (
        'schema_version = 2\ntheme = "purple"\ndevice = "cpu"\ntorch_threads = -4\n'
        'library_folders = ["/music"]\n'
    )
    path.write_text(content)
    loaded = load_settings()
    assert loaded.settings.theme == "light" and loaded.settings.torch_threads == 0
    assert loaded.settings.device == "cpu" and loaded.settings.library_folders == ["/music"]
    assert "settings: theme 'purple' is not one of 'light', 'dark'; using 'light'" in (
        loaded.messages
    )
    assert any(m.startswith("settings: torch_threads -4") for m in loaded.messages)
    assert len(loaded.messages) == 2
    assert path.read_text() == content


def test_a_bad_setting_is_said_by_every_command(tmp_path):
    """The issue: `theme = "purple"` made `voice say` reset every setting and say nothing."""
    import subprocess
    import sys

    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('schema_version = 2\ntheme = "purple"\ndevice = "cpu"\n')
    out = tmp_path / "out.wav"
    run = subprocess.run(
        [sys.executable, "-m", "studio", "voice", "say", "hello there", "-o", str(out)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 1000
    assert "studio: settings: theme 'purple' is not one of 'light', 'dark'; using 'light'" in (
        run.stderr
    )
    assert run.stderr.count("theme 'purple'") == 1
    assert path.read_text() == 'schema_version = 2\ntheme = "purple"\ndevice = "cpu"\n'


def test_invalid_assignment_is_refused():
    s = Settings()
    with pytest.raises(ValueError):
        s.device = "tpu"


def test_a_full_disk_keeps_the_old_settings(tmp_path, monkeypatch):
    import errno

    import tomli_w

    from studio.core.settings import Settings, save_settings

    path = tmp_path / "settings.toml"
    save_settings(Settings(theme="dark"), path)
    before = path.read_bytes()

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tomli_w, "dump", full)
    with pytest.raises(OSError, match="could not save the settings.*No space left"):
        save_settings(Settings(theme="light"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]


def test_an_unknown_setting_is_named_and_ignored():
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('schema_version = 2\nthem = "dark"\ndevice = "cpu"\n')
    loaded = load_settings()
    assert loaded.messages == ["settings: 'them' is not a setting Studio knows; ignored"]
    assert loaded.settings.device == "cpu" and loaded.settings.theme == "light"
