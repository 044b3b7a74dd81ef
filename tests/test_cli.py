import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio import __version__
from studio.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=120, **kw
    )


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"studio {__version__}"


def test_help_imports_neither_torch_nor_qt():
    code = (
        "import sys, contextlib, io, studio.cli as c\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: c.main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print([m for m in ('torch', 'PySide6', 'numpy', 'pydantic') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_failing_command_prints_one_line_and_no_traceback(tmp_path):
    out = run("generate", "nobody/nothing")
    assert out.returncode == 1
    assert out.stderr.strip() == "studio: no generator 'nobody/nothing'"
    assert "Traceback" not in out.stderr


def test_errors_about_the_input_are_sentences_without_a_class_name(tmp_path, capsys):
    (tmp_path / "one" / "a").mkdir(parents=True)
    (tmp_path / "one" / "a" / "x.png").write_bytes(b"not a picture")
    assert main(["image", "info", str(tmp_path / "missing.png")]) == 1
    assert capsys.readouterr().err == f"studio: no such picture: {tmp_path / 'missing.png'}\n"
    assert main(["image", "train-tagger", str(tmp_path / "one")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio: ") and "at least two labels" in err
    assert "Error" not in err


def test_debug_shows_the_traceback():
    out = run("--debug", "generate", "nobody/nothing")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_bad_parameter_value_is_one_clear_line(tmp_path):
    out = run("generate", "studio/scale-melody", "-p", "bars=999", "-o", str(tmp_path / "x.mid"))
    assert out.returncode == 1
    assert "Bars: 999 is above the maximum 64" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.mid").exists()


def test_generate_builtin_writes_midi(tmp_path):
    out = run(
        "generate",
        "studio/scale-melody",
        "-p",
        "bars=2",
        "-p",
        "seed=3",
        "-o",
        str(tmp_path / "m.mid"),
    )
    assert out.returncode == 0, out.stderr
    assert "2 bars" in out.stdout and "seed 3" in out.stdout
    assert (tmp_path / "m.mid").read_bytes()[:4] == b"MThd"


def test_doctor_json_reports_every_part_without_crashing():
    out = run("doctor", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    parts = (
        "python",
        "torch",
        "device",
        "qt",
        "audio",
        "midi",
        "camera",
        "video",
        "music",
        "models",
        "plugins",
        "library",
        "leftovers",
    )
    for part in parts:
        assert part in report and report[part]["status"], part
    assert report["device"]["device"] in ("cpu", "cuda", "mps")
    assert any(e["id"] == "studio/scale-melody" for e in report["plugins"]["engines"])
    music = {e["id"]: e["status"] for e in report["music"]["items"]}
    assert music == {"music/transformer": "ok", "music/synth": "ok"}
    assert "ALSA lib" not in out.stderr


def test_doctor_text(tmp_path):
    out = run("doctor")
    assert out.returncode == 0
    assert "camera" in out.stdout and "torch" in out.stdout


def test_doctor_survives_a_corrupt_settings_file(isolated_dirs):
    settings = isolated_dirs["config"] / "studio" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("{{{{ broken")
    out = run("doctor", "--json")
    assert out.returncode == 0
    assert "using the defaults" in json.loads(out.stdout)["settings"]["detail"]
    assert settings.read_text() == "{{{{ broken"  # never rewritten silently


def test_models_list_shows_user_models(isolated_dirs):
    folder = isolated_dirs["data"] / "studio" / "models" / "music"
    folder.mkdir(parents=True)
    (folder / "stray.bin").write_bytes(b"123")
    out = run("models", "list", "--json")
    data = json.loads(out.stdout)
    assert data["user_model_dir"].endswith("studio/models")
    user = [m for m in data["models"] if m["origin"] == "user"]
    assert [(m["name"], m["status"]) for m in user] == [("stray.bin", "no card")]
    shipped = {m["name"]: m for m in data["models"] if m["origin"] == "shipped"}
    assert shipped["studio-music-small"]["licence"] == "GPL-3.0-or-later"


def test_plugins_validate_reports_errors(tmp_path):
    (tmp_path / "studio-plugin.toml").write_text("[plugin]\nname='x'\n")
    out = run("plugins", "validate", str(tmp_path))
    assert out.returncode == 1
    assert "error:" in out.stderr and "contributions" in out.stderr
    assert run("plugins", "validate", str(tmp_path / "nope")).returncode == 1


def test_bench_unknown_name_fails_cleanly():
    out = run("bench", "warp-drive")
    assert out.returncode == 1 and "unknown benchmark warp-drive" in out.stderr
    assert "core" in run("bench", "--list").stdout


def test_gui_without_system_libraries_prints_the_install_line(monkeypatch, capsys):
    monkeypatch.setattr("studio.core.syslibs.missing_for_gui", lambda: ["libegl1", "libxkbcommon0"])
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert "sudo apt-get install -y libegl1 libxkbcommon0" in err
    assert "Traceback" not in err


def test_gui_without_a_display_says_so(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setattr("studio.core.syslibs.missing_for_gui", lambda: [])
    assert main(["gui"]) == 1
    assert "No display found" in capsys.readouterr().err


def test_missing_library_detection_uses_the_finder():
    from studio.core.syslibs import QT_BASE, missing_libraries

    assert missing_libraries(QT_BASE, finder=lambda name: None)[0] == "libegl1"
    assert missing_libraries(QT_BASE, finder=lambda name: f"lib{name}.so") == []


def test_import_contract_keeps_qt_out_of_engines():
    out = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout


def test_first_paint_probe_reports_a_time(isolated_dirs):
    import os

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for probe in ("first-paint", "bare-paint", "widgets-paint"):
        out = subprocess.run(
            [sys.executable, "-m", "studio.ui._probe", probe],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        # well under the 60 s timeout (a bound equal to it could never fail); about 1.5 s here
        assert 0 < json.loads(out.stdout.strip().splitlines()[-1])["first_paint_s"] < 20
