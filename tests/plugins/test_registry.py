import sys
import textwrap
from dataclasses import dataclass

import pytest

from studio.core.jobs import Cancelled
from studio.core.media import MidiClip
from studio.plugins.registry import PluginError, PluginRegistry, Status
from studio.testing import RecordingContext


@dataclass
class FakeDist:
    name: str


@dataclass
class FakeEntryPoint:
    name: str
    value: str
    dist: FakeDist


MANIFEST = """
[plugin]
name = "{name}"
version = "0.1.0"
api_version = "{api}"

[[contributions]]
id = "gen"
kind = "midi"
title = "Test generator"
entry = "{package}.gen:Gen"
"""

GEN_OK = """
from studio.plugins.api import Generator, MidiClip, Note, Param

class Gen(Generator):
    kind = "midi"
    params = (Param("count", "int", 3, minimum=1, maximum=10),)

    def run(self, request, ctx):
        notes = []
        for i in range(request["count"]):
            ctx.check_cancelled()
            notes.append(Note(float(i), 60 + i, 1.0))
            ctx.progress((i + 1) / request["count"])
        return MidiClip(notes)
"""


def make_plugin(root, package, *, name=None, api="1.0", gen=GEN_OK, manifest=None):
    pkg = root / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(textwrap.dedent(gen))
    text = (
        manifest
        if manifest is not None
        else MANIFEST.format(name=name or package.replace("_", "-"), api=api, package=package)
    )
    (pkg / "studio-plugin.toml").write_text(text)
    return FakeEntryPoint(package, f"{package}:studio-plugin.toml", FakeDist(package))


@pytest.fixture
def plugin_root(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[mod]


def test_discovery_reads_manifests_without_importing_plugin_code(plugin_root):
    ep = make_plugin(plugin_root, "tp_good", gen="raise SystemExit('imported!')")
    registry = PluginRegistry(entry_points=[ep])
    (record,) = registry.discover()
    assert record.ok and record.name == "tp-good"
    assert "tp_good.gen" not in sys.modules
    assert [r.id for r in registry.contributions("midi")] == ["tp-good/gen"]


def test_run_checks_params_and_returns_result_with_provenance(plugin_root):
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_run")])
    ctx = RecordingContext()
    clip = registry.run("tp-run/gen", {"count": 4}, ctx)
    assert isinstance(clip, MidiClip) and len(clip.notes) == 4
    assert clip.provenance["engine"] == "tp-run/gen"
    assert clip.provenance["params"] == {"count": 4}
    assert ctx.fractions[-1] == 1.0
    with pytest.raises(ValueError, match="above the maximum"):
        registry.run("tp-run/gen", {"count": 99})
    assert registry.records[0].ok  # a user's bad value does not disable the plugin


def test_cancel_passes_through_and_keeps_plugin_enabled(plugin_root):
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_cancel")])
    with pytest.raises(Cancelled):
        registry.run("tp-cancel/gen", {"count": 10}, RecordingContext(cancel_after=1))
    assert registry.records[0].ok


@pytest.mark.parametrize(
    "kwargs, status, text",
    [
        ({"manifest": "[plugin]\nname = 'x'"}, Status.INVALID, "contributions"),
        ({"api": "2.0"}, Status.INCOMPATIBLE, "needs plugin API 2.0"),
    ],
)
def test_bad_plugins_are_marked_at_discovery(plugin_root, kwargs, status, text):
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_bad", **kwargs)])
    (record,) = registry.discover()
    assert record.status == status and text in record.error
    assert registry.contributions() == []


def test_missing_package_is_marked_not_found():
    ep = FakeEntryPoint("ghost", "tp_not_installed:studio-plugin.toml", FakeDist("ghost"))
    (record,) = PluginRegistry(entry_points=[ep]).discover()
    assert record.status == Status.NOT_FOUND


def test_import_failure_disables_plugin_with_traceback(plugin_root):
    registry = PluginRegistry(
        entry_points=[
            make_plugin(plugin_root, "tp_broken", gen="import does_not_exist_anywhere\n"),
            make_plugin(plugin_root, "tp_fine"),
        ]
    )
    with pytest.raises(PluginError, match="tp-broken failed to load"):
        registry.run("tp-broken/gen", {})
    broken = next(r for r in registry.records if r.name == "tp-broken")
    assert broken.status == Status.IMPORT_FAILED
    assert "ModuleNotFoundError" in broken.error and "Traceback" in broken.error
    # the other plugin keeps working
    assert len(registry.run("tp-fine/gen", {}).notes) == 3


def test_a_trusted_generator_that_raises_is_disabled(plugin_root):
    # trusted: it runs inside Studio, where one failure disables it (an isolated plugin gets a
    # few chances: test_isolation)
    gen = GEN_OK.replace("notes = []", "raise ZeroDivisionError('boom')")
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_raises", gen=gen)],
                              trusted={"tp-raises"})  # fmt: skip
    with pytest.raises(PluginError, match="boom"):
        registry.run("tp-raises/gen", {})
    assert registry.records[0].status == Status.FAILED
    assert "ZeroDivisionError" in registry.records[0].error
    with pytest.raises(KeyError, match="unavailable"):
        registry.run("tp-raises/gen", {})


def test_wrong_result_type_is_a_plugin_failure(plugin_root):
    gen = GEN_OK.replace("return MidiClip(notes)", "return 'not a clip'")
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_wrong", gen=gen)])
    with pytest.raises(PluginError, match="must return MidiClip"):
        registry.run("tp-wrong/gen", {})


def test_safe_mode_skips_third_party_but_keeps_builtins(plugin_root):
    ep = make_plugin(plugin_root, "tp_safe")
    builtin = FakeEntryPoint("builtin", "studio.builtin:studio-plugin.toml", FakeDist("studio"))
    registry = PluginRegistry(safe_mode=True, entry_points=[ep, builtin])
    statuses = {r.entry_point: r.status for r in registry.discover()}
    assert statuses["tp_safe:studio-plugin.toml"] == Status.SAFE_MODE
    assert statuses["studio.builtin:studio-plugin.toml"] == Status.OK
    assert [c.id for c in registry.contributions()] == [
        "studio/scale-melody",
        "studio/piper-voice",
        "studio/espeak-voice",
        "studio/selfie-segmenter",
        "studio/mog2-segmenter",
        "studio/rvm-matting",
        "studio/pattern",
        "studio/diffusion",
        "studio/hybrid-recommender",
        "studio/als-recommender",
        "studio/item-knn-recommender",
        "studio/content-recommender",
        "studio/popularity-recommender",
        "studio/user-knn-recommender",
        "studio/svd-recommender",
        "studio/svdpp-recommender",
        "studio/tfidf-recommender",
        "studio/wide-deep-recommender",
        "studio/deepfm-recommender",
    ]


def test_user_disabled_plugin(plugin_root):
    registry = PluginRegistry(
        disabled=["tp-off"], entry_points=[make_plugin(plugin_root, "tp_off")]
    )
    assert registry.discover()[0].status == Status.DISABLED


def test_builtins_register_through_the_entry_point():
    registry = PluginRegistry()
    ids = [c.id for c in registry.contributions("midi")]
    assert "studio/scale-melody" in ids
    assert next(r for r in registry.records if r.name == "studio").builtin


def test_api_compatibility_rules(plugin_root):
    from studio.plugins.api import API_VERSION, api_compatible

    assert api_compatible("1.0", "1.3") and api_compatible("1", "1.3")  # older minor: loads
    assert not api_compatible("1.4", "1.3")  # a newer minor: refused
    assert not api_compatible("2.0", "1.3") and not api_compatible("0.9", "1.3")  # other majors
    registry = PluginRegistry(entry_points=[make_plugin(plugin_root, "tp_new", api="2.0")])
    (record,) = registry.discover()
    assert record.error == f"needs plugin API 2.0; this Studio provides {API_VERSION}"
