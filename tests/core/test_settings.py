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
    with open(path, "rb") as fh:
        assert tomllib.load(fh)["schema_version"] == SCHEMA_VERSION


def test_migrate_v1_gpu_true_means_auto():
    assert migrate({"use_gpu": True})["device"] == "auto"


@pytest.mark.parametrize(
    "content",
    [
        "this is [not toml",
        'schema_version = 2\ntheme = "purple"\n',
        "schema_version = 99\n",
        "schema_version = 2\ntorch_threads = -4\n",
    ],
)
def test_corrupt_file_is_backed_up_and_replaced_by_defaults(content):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.backup is not None and loaded.backup.read_text() == content
    assert "using defaults" in loaded.messages[0]
    assert loaded.backup.name in loaded.messages[0]
    # the replaced file now reads cleanly
    assert load_settings().messages == []


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
