"""`studio --selftest`: every check passes here, offline, and a failure is a row, not a crash."""

import shutil
import subprocess
import sys

import pytest

from studio.cli import main


def test_selftest_passes_and_prints_its_table(capsys):
    assert main(["--selftest"]) == 0
    out = capsys.readouterr().out
    for name in ("music", "voice", "video", "image", "library", "plugins", "window"):
        assert any(line.startswith(name) and " pass " in line for line in out.splitlines()), name
    assert "7 of 7 passed" in out


def test_a_failing_check_is_reported_not_raised(monkeypatch):
    from studio import selftest

    def broken(_tmp):
        raise RuntimeError("the model file is gone")

    monkeypatch.setattr(selftest, "CHECKS", [("video", broken)] + selftest.CHECKS[:1])
    results = selftest.run_selftest()
    assert [r.ok for r in results] == [False, True]
    assert "the model file is gone" in results[0].detail
    assert "FAIL" in selftest.format_table(results)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare here")
def test_selftest_passes_without_a_network():
    # -r: a user namespace too, so a normal user (not only root) gets the network namespace
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"this machine refuses a user and network namespace: {probe.stderr.strip()}")
    out = subprocess.run(["unshare", "-rn", sys.executable, "-m", "studio", "--selftest"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 of 7 passed" in out.stdout


def test_selftest_in_a_home_with_spaces_and_non_ascii_characters(tmp_path):
    import os

    home = tmp_path / "Mein Ordner – ünïcødé"
    home.mkdir()
    env = dict(os.environ, TMPDIR=str(home), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "studio", "--selftest"], capture_output=True,
                         text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 of 7 passed" in out.stdout
