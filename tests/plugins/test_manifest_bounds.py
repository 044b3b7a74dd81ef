"""A deeply nested manifest (issue 18) is refused for its plugin alone: discovery goes on, and
`plugins list` and the Plugins dialog show the plugin's status and why."""

import os
import subprocess
import sys

import pytest

from studio.plugins.manifest import ManifestError, parse_manifest
from studio.plugins.registry import PluginRegistry, Status
from tests.plugins.test_registry import MANIFEST, make_plugin, plugin_root  # noqa: F401

DEEP = MANIFEST.format(name="tp-deep", api="1.0", package="tp_deep") + (
    "description = " + "[" * 5000 + "]" * 5000 + "\n"
)
DOTTED = "[plugin]\n" + "x" + ".y" * 100_000 + " = 1\n"


@pytest.mark.parametrize(
    "text, why",
    [
        (DEEP, "nests values more than 8 levels deep"),
        (DOTTED, "a dotted key of more than 8 parts"),
        ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nests values more than 8 levels deep"),
        ("x = " + "9" * 5000, "holds a value TOML cannot read"),
        ("[plugin]\nname = '" + "a" * 300_000 + "'\n", "at most 262,144 are read"),
    ],
)
def test_a_manifest_past_the_bounds_is_refused_in_words(text, why):
    with pytest.raises(ManifestError, match=why):
        parse_manifest(text, "studio-plugin.toml")


def test_one_deep_manifest_leaves_the_other_plugins_working(plugin_root):  # noqa: F811
    good = make_plugin(plugin_root, "tp_good")
    deep = make_plugin(plugin_root, "tp_deep", manifest=DEEP)
    dotted = make_plugin(plugin_root, "tp_dotted", manifest=DOTTED)
    registry = PluginRegistry(entry_points=[deep, good, dotted])
    records = {r.name: r for r in registry.discover()}
    assert records["tp-good"].status == Status.OK
    assert [c.id for c in registry.contributions()] == ["tp-good/gen"]
    for name, why in (("tp_deep", "levels deep"), ("tp_dotted", "dotted key")):
        assert records[name].status == Status.INVALID
        assert why in records[name].error


def _site_with_deep_plugin(root):
    """A folder for PYTHONPATH holding an installed plugin (dist-info with its entry point)
    whose manifest nests 5000 levels."""
    site = root / "site"
    make_plugin(site, "tp_deep", manifest=DEEP)
    info = site / "tp_deep-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tp-deep\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[studio.plugins]\ndeep = tp_deep:studio-plugin.toml\n")
    return site


def test_plugins_list_shows_the_deep_manifest_and_the_rest(tmp_path):
    site = _site_with_deep_plugin(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(site))
    run = subprocess.run([sys.executable, "-m", "studio", "plugins", "list"],
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "RecursionError" not in run.stdout + run.stderr
    lines = run.stdout.splitlines()
    deep = next(i for i, line in enumerate(lines) if line.startswith("deep"))
    assert "invalid manifest" in lines[deep]
    assert "nests values more than 8 levels deep" in lines[deep + 1]
    assert any(line.startswith("studio ") and " ok " in line for line in lines)


def test_the_plugins_dialog_shows_why(qtbot, plugin_root):  # noqa: F811
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from studio.ui.dialogs.plugins import PluginsDialog

    good = make_plugin(plugin_root, "tp_good")
    registry = PluginRegistry(
        entry_points=[good, make_plugin(plugin_root, "tp_deep", manifest=DEEP)]
    )
    dialog = PluginsDialog(registry)
    qtbot.addWidget(dialog)
    row = [r.name for r in dialog.records].index("tp_deep")
    assert dialog.table.item(row, 3).text() == Status.INVALID
    rect = dialog.table.visualItemRect(dialog.table.item(row, 0))
    QTest.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "nests values more than 8 levels deep" in dialog.details.toPlainText()
    assert dialog.table.item([r.name for r in dialog.records].index("tp-good"), 3).text() == "ok"
