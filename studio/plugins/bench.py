"""``studio bench plugins``: what process isolation costs a plugin run.

A tiny plugin (a four-note clip) is run inside Studio (trusted), in a fresh worker per run (a
cold start: interpreter, guards, import) and in a warm worker kept between runs, with the same
request each time. The figures are per-run wall times in milliseconds; the warm overhead is what
an isolated plugin costs per run in practice.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext

__all__ = ["bench_plugins"]

_MANIFEST = """
[plugin]
name = "bench-plugin"
version = "0.1.0"
api_version = "1.0"

[[contributions]]
id = "gen"
kind = "midi"
title = "Bench generator"
entry = "studio_bench_plugin.gen:Gen"
"""

_GEN = """
from studio.plugins.api import Generator, MidiClip, Note, Param


class Gen(Generator):
    kind = "midi"
    params = (Param("count", "int", 4, minimum=1, maximum=64),)

    def run(self, request, ctx):
        notes = []
        for i in range(request["count"]):
            ctx.check_cancelled()
            notes.append(Note(float(i), 60 + i % 12, 1.0))
        ctx.progress(1.0, "done")
        return MidiClip(notes)
"""


class _Dist:
    name = "bench-plugin"


class _EntryPoint:
    name = "studio_bench_plugin"
    value = "studio_bench_plugin:studio-plugin.toml"
    dist = _Dist()


def _median_ms(fn: Any, runs: int, ctx: JobContext) -> float:
    times = []
    for _ in range(runs):
        ctx.check_cancelled()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 3)


def bench_plugins(ctx: JobContext, runs: int = 20, cold_runs: int = 5) -> dict[str, Any]:
    """Per-run milliseconds of a trivial plugin: in Studio, in a cold worker, in a warm one."""
    from studio.plugins import isolation
    from studio.plugins.registry import PluginRegistry

    with tempfile.TemporaryDirectory(prefix="studio-bench-plugin-") as tmp:
        package = Path(tmp) / "studio_bench_plugin"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "gen.py").write_text(_GEN)
        (package / "studio-plugin.toml").write_text(_MANIFEST)
        sys.path.insert(0, tmp)
        try:
            trusted = PluginRegistry(entry_points=[_EntryPoint()], trusted={"bench-plugin"})
            isolated = PluginRegistry(entry_points=[_EntryPoint()], trusted=())
            run_id = "bench-plugin/gen"
            request = {"count": 4}
            ctx.progress(0.05, "in Studio")
            trusted.run(run_id, request)  # imported once, like a warm model
            in_process = _median_ms(lambda: trusted.run(run_id, request), runs, ctx)

            ctx.progress(0.3, "cold worker per run")

            def cold() -> None:
                isolation.stop_all_workers()
                isolated.unload_all(wait=True)
                isolated.run(run_id, request)

            cold_ms = _median_ms(cold, cold_runs, ctx)
            ctx.progress(0.7, "warm worker")
            isolated.run(run_id, request)
            warm_ms = _median_ms(lambda: isolated.run(run_id, request), runs, ctx)
            generator = isolated.generator(isolated.get(run_id))
            guards = dict(getattr(generator, "worker_info", {}))
        finally:
            isolation.stop_all_workers()
            sys.path.remove(tmp)
            for name in [m for m in sys.modules if m.startswith("studio_bench_plugin")]:
                del sys.modules[name]
    ctx.progress(1.0, "done")
    return {
        "in_process_ms": in_process,
        "isolated_cold_ms": cold_ms,
        "isolated_warm_ms": warm_ms,
        "warm_overhead_ms": round(warm_ms - in_process, 3),
        "cold_vs_warm": round(cold_ms / warm_ms, 1) if warm_ms else None,
        "network_guard": guards.get("network", ""),
        "file_guard": guards.get("files", ""),
    }
