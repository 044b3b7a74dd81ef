"""The author kit: `studio plugins new` makes a project that validates, passes its own test,
installs and runs in Studio; `validate` refuses imports of Studio's internals."""

import os
import subprocess
import sys

import pytest

from studio.cli import main
from studio.plugins.scaffold import SCAFFOLD_KINDS, ScaffoldError, new_plugin
from studio.plugins.validate import validate_plugin


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_a_new_plugin_validates_and_passes_its_own_test(tmp_path, kind):
    root = new_plugin(f"my-{kind.replace('_', '-')}", kind, tmp_path)
    report = validate_plugin(root)
    assert report.ok, report.errors
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        capture_output=True, text=True, env=env, cwd=root, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_new_plugin_installs_and_studio_runs_it(tmp_path):
    root = new_plugin("my-arpeggio", "midi", tmp_path / "src")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(root)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "my-arpeggio/my-arpeggio", "-p", "bars=1",
         "-o", str(tmp_path / "a.mid")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "8 notes" in out.stdout


def test_bad_names_and_places_are_refused(tmp_path, capsys):
    with pytest.raises(ScaffoldError, match="lower-case"):
        new_plugin("My Plugin", "midi", tmp_path)
    new_plugin("twice", "image", tmp_path)
    assert main(["plugins", "new", "twice", "--kind", "image", "--dir", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err


def test_validate_refuses_imports_of_studio_internals(tmp_path, capsys):
    root = new_plugin("sneaky", "midi", tmp_path)
    source = root / "studio_sneaky" / "generator.py"
    source.write_text("from studio.ui.app import create_app\nimport studio.core.models\n"
                      + source.read_text())  # fmt: skip
    report = validate_plugin(root)
    assert not report.ok
    assert any("generator.py:1: imports studio.ui.app" in e for e in report.errors)
    assert any("generator.py:2: imports studio.core.models" in e for e in report.errors)
    assert main(["plugins", "validate", str(root)]) == 1
    assert "may import only studio.plugins.api and studio.testing" in capsys.readouterr().err
