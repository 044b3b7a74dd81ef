"""``studio --selftest``: one engine of each panel, the plugin system and the window, offscreen, in
well under a minute, with a pass/fail table. Run it in a packaged app without a network (for
example under ``unshare -rn``, which a normal user may run) to prove nothing is fetched at run
time.

Every check runs in a temporary home (config, data and cache folders), so the artist's settings,
library and caches are never touched.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Check", "run_selftest", "format_table", "CHECKS"]


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str


def _music(tmp: Path) -> str:
    from studio.music.scale_melody import ScaleMelodyGenerator
    from studio.testing import run_generator

    clip, _ctx = run_generator(ScaleMelodyGenerator, {"bars": 2, "seed": 1})
    clip.save(tmp / "melody.mid")
    return f"{len(clip.notes)} notes written as MIDI"


def _voice(tmp: Path) -> str:
    from studio.core.jobs import JobContext
    from studio.core.models import ModelStore
    from studio.voice.speech import SpeakerCache, SpeechSettings, speak

    cache = SpeakerCache(ModelStore(tmp / "models"))
    result = speak("Studio works offline.", SpeechSettings(), JobContext(), cache=cache)
    assert result.audio is not None and result.duration > 0.5
    return f"Piper spoke {result.duration:.1f} s"


def _video(tmp: Path) -> str:
    from studio.video.pipeline import VideoPipeline, VideoSettings
    from studio.video.sources import DemoSource

    frame = DemoSource(320, 180, 1).read()
    assert frame is not None
    out = VideoPipeline(VideoSettings(device="cpu")).process(frame)
    share = float((out.matte > 127).mean())
    assert 0.05 < share < 0.95, "the person was not found in the demo frame"
    return f"selfie segmentation: person {share:.0%} of the frame"


def _image(tmp: Path) -> str:
    from studio.image.io import Picture, load_picture, save_picture
    from studio.image.ops import apply_op
    from studio.image.pattern import PATTERN_PARAMS, make_pattern

    request = {p.name: p.default for p in PATTERN_PARAMS}
    request.update(seed=3, width=96, height=64)
    pixels = apply_op("blur", make_pattern(request), {"radius": 2})
    path = save_picture(Picture(pixels, {"engine": "selftest"}), tmp / "p.png")
    assert load_picture(path).provenance == {"engine": "selftest"}
    return "pattern, blur, PNG with provenance"


def _library(tmp: Path) -> str:
    from studio.library.catalog import Catalog
    from studio.library.service import Library

    catalog = Catalog(tmp / "library.sqlite")
    folder = tmp / "media"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.mid").write_bytes((tmp / "melody.mid").read_bytes())
    catalog.add_folder(folder)
    report = catalog.scan()
    first = catalog.items()[0]
    catalog.add_event(first.id, "like")
    found = Library(catalog).recommend(2, engine="popularity")
    return f"{report.files} files catalogued, {len(found)} suggestions"


def _plugins(tmp: Path) -> str:
    from studio.plugins.registry import PluginRegistry

    registry = PluginRegistry()
    records = registry.discover()
    bad = [r.name for r in records if not r.ok]
    assert not [r for r in records if r.builtin and not r.ok], "the built-in plugin failed"
    generators = len(registry.contributions())
    return f"{len(records)} plugin(s), {generators} generators" + (
        f"; not working: {', '.join(bad)}" if bad else ""
    )


def _gui(tmp: Path) -> str:
    from studio.ui.shot import render_shot

    path = render_shot("music", tmp / "window.png", size=(1024, 700), theme="light")
    assert path.stat().st_size > 10_000
    return "the window painted offscreen"


CHECKS: list[tuple[str, Callable[[Path], str]]] = [
    ("music", _music),
    ("voice", _voice),
    ("video", _video),
    ("image", _image),
    ("library", _library),
    ("plugins", _plugins),
    ("window", _gui),
]


def run_selftest(only: list[str] | None = None) -> list[Check]:
    """Run the checks in a temporary home; never raises."""
    results: list[Check] = []
    saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
                                            "XDG_STATE_HOME", "QT_QPA_PLATFORM")}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="studio-selftest-") as home:
        root = Path(home)
        for name in ("config", "data", "cache", "state"):
            (root / name).mkdir()
            os.environ[f"XDG_{name.upper()}_HOME"] = str(root / name)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        try:
            for name, check in CHECKS:
                if only and name not in only:
                    continue
                began = time.perf_counter()
                try:
                    detail = check(root)
                    ok = True
                except Exception as exc:  # noqa: BLE001 - a failed check is a row, not a crash
                    ok = False
                    detail = f"{type(exc).__name__}: {exc}"
                    last = traceback.format_exc().strip().splitlines()[-3:]
                    detail += " | " + " / ".join(line.strip() for line in last[:-1])
                results.append(Check(name, ok, time.perf_counter() - began, detail))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return results


def format_table(results: list[Check]) -> str:
    lines = [f"{'check':9} {'result':6} {'seconds':>7}  detail"]
    for r in results:
        lines.append(f"{r.name:9} {'pass' if r.ok else 'FAIL':6} {r.seconds:7.2f}  {r.detail}")
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} of {len(results)} passed in {sum(r.seconds for r in results):.1f} s")
    return "\n".join(lines)
