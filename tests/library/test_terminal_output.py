"""Nothing a file says reaches the terminal raw (issue 18): `library list` printed escape
sequences from MIDI track names and file names, including window-title and screen-clear codes."""

import os
import subprocess
import sys


def _studio(tmp_path, *args):
    env = dict(os.environ)
    for name in ("data", "config", "cache"):
        env[f"XDG_{name.upper()}_HOME"] = str(tmp_path / name)
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, timeout=180, env=env)  # fmt: skip


def test_no_raw_escape_reaches_the_terminal(tmp_path):
    """The issue: `library list` printed escape sequences from MIDI track names and file
    names, including window-title and screen-clear codes."""
    from studio.core.media import MidiClip, Note

    folder = tmp_path / "songs"
    folder.mkdir()
    clip = MidiClip([Note(0.0, 60, 1.0)])
    for name in ("\x1b]0;evil\x07", "\x1b[2J"):
        (folder / f"{name}.mid").write_bytes(clip.to_bytes())
    track = (
        b"\x00\xff\x03\x0c\x1b]0;evil\x07\x1b[2J"
        + b"\x00\x90\x3c\x40\x60\x80\x3c\x00\x00\xff\x2f\x00"
    )
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60"
    (folder / "named.mid").write_bytes(header + b"MTrk" + len(track).to_bytes(4, "big") + track)
    add = _studio(tmp_path, "library", "add", str(folder), "--no-features")
    assert add.returncode == 0, add.stderr
    for args in (("library", "list"), ("library", "search", "mid"), ("library", "recommend")):
        run = _studio(tmp_path, *args)
        assert run.returncode == 0, run.stderr
        assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout
    listed = _studio(tmp_path, "library", "list").stdout
    assert "\\x1b]0;evil\\x07" in listed and "\\x1b[2J" in listed
    assert len(listed.strip().splitlines()) == 3


def test_project_info_prints_no_raw_escape(tmp_path):
    from studio.core.media import MidiClip, Note

    song = tmp_path / "\x1b[2J.mid"
    song.write_bytes(MidiClip([Note(0.0, 60, 1.0)]).to_bytes())
    project = tmp_path / "\x1b]0;evil\x07.studio"
    made = _studio(tmp_path, "project", "new", str(project), "--music", str(song))
    assert made.returncode == 0, made.stderr
    run = _studio(tmp_path, "project", "info", str(project))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout + run.stderr
    assert "\\x1b]0;evil\\x07" in run.stdout
