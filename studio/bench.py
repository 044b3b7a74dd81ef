"""``studio bench``: benchmarks that report figures against a baseline measured in the same run.

Benchmarks that need Qt run it in a child process (``python -m studio.ui._probe``), so this module
stays Qt-free and a benchmark can be cancelled by killing its child.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext

__all__ = ["BENCHMARKS", "run_benchmarks", "format_results", "machine_name"]

Benchmark = Callable[[JobContext], dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    def register(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn

    return register


def machine_name() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _child_env(pycache: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if pycache:  # compiled modules cached, as an installed Studio has them
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _run(
    ctx: JobContext, args: list[str], timeout: float = 120.0, pycache: str | None = None
) -> tuple[float, str]:
    """Run a child process, killable by cancel. Returns (seconds, stdout)."""
    env = _child_env(pycache)
    start = time.perf_counter()
    # a probe's "seconds since start" counts from here (studio.ui._probe._process_age)
    env["STUDIO_PROBE_SPAWNED_AT"] = repr(time.time())
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                if ctx.cancelled or time.perf_counter() - start > timeout:
                    proc.kill()
                    proc.communicate()
                    ctx.check_cancelled()
                    raise TimeoutError(f"{' '.join(args[:4])} took over {timeout:.0f} s") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:4])} failed: {err.strip().splitlines()[-1:]}")
    return elapsed, out


def _median_time(ctx: JobContext, args: list[str], repeat: int) -> float:
    return statistics.median(_run(ctx, args)[0] for _ in range(repeat))


@benchmark("core")
def bench_core(ctx: JobContext) -> dict[str, Any]:
    """start-up (--help, first painted window) and GUI responsiveness while torch computes"""
    py = sys.executable
    results: dict[str, Any] = {}
    ctx.progress(0.02, "timing a bare Python start (baseline)")
    baseline = _median_time(ctx, [py, "-c", "pass"], 5)
    results["python_start_s"] = round(baseline, 4)

    ctx.progress(0.15, "timing `studio --help`")
    help_s = _median_time(ctx, [py, "-m", "studio", "--help"], 5)
    _, mods = _run(
        ctx,
        [
            py,
            "-c",
            "import sys, studio.cli as c;"
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "  try: c.main(['--help'])\n"
            "  except SystemExit: pass\n"
            "print(sorted(m for m in ('torch','PySide6') if m in sys.modules))",
        ],
    )
    results["help_s"] = round(help_s, 4)
    results["help_vs_python_start"] = round(help_s / baseline, 2)
    results["help_heavy_imports"] = mods.strip()
    packaged = Path(os.environ.get("STUDIO_PACKAGED_APP", "dist/studio/studio"))
    if packaged.is_file():  # the one-folder app `make package` built, against this install
        ctx.progress(0.2, "timing the packaged app's start (--version)")
        source_s = _median_time(ctx, [py, "-m", "studio", "--version"], 3)
        packaged_s = _median_time(ctx, [str(packaged), "--version"], 3)
        results["packaged_start_s"] = round(packaged_s, 4)
        results["source_start_s"] = round(source_s, 4)
        results["packaged_vs_source_start"] = round(packaged_s / source_s, 2)
    else:
        results["packaged_start"] = "no packaged app (make package, or set STUDIO_PACKAGED_APP)"

    results.update(_first_paint(ctx, py))

    ctx.progress(0.65, "measuring GUI stalls: idle, then with a torch job")
    _, out = _run(ctx, [py, "-m", "studio.ui._probe", "stall", "--seconds", "3"], timeout=180)
    stall = json.loads(out.strip().splitlines()[-1])
    results.update({f"stall_{k}": v for k, v in stall.items()})
    if stall.get("idle_max_ms"):
        results["stall_max_vs_idle"] = round(stall["busy_max_ms"] / stall["idle_max_ms"], 2)
    if os.environ.get("STUDIO_BENCH_QUICK") != "1":  # the project figures take a minute or two
        from studio.project_bench import bench_project

        ctx.progress(0.75, "projects: open and autosave")

        def sub(fraction: float, message: str) -> None:
            ctx.progress(0.75 + 0.25 * fraction, f"projects: {message}")

        project = bench_project(ctx.child(sub))
        results.update({f"project_{k}": v for k, v in project.items()})
    ctx.progress(1.0, "done")
    return results


PAINT_RUNS = int(os.environ.get("STUDIO_BENCH_PAINT_RUNS", "5"))


def _first_paint(ctx: JobContext, py: str) -> dict[str, Any]:
    """Process start to first painted window: Studio's (``studio.ui._probe first-paint``, the way
    ``studio`` starts) against a bare PySide6 window with one label, alternating bare, Studio,
    bare, Studio, ... so a busy machine weighs on both alike. Both run with their modules'
    bytecode cached (as installed; this checkout may run with PYTHONDONTWRITEBYTECODE=1, which
    would make Studio compile a dozen modules on every start), after one uncounted run each."""
    import tempfile

    from studio.core import paths

    pycache = str(paths.cache_dir() / "bench-pycache")
    with contextlib.suppress(OSError):
        os.makedirs(pycache, exist_ok=True)
    if not os.access(pycache, os.W_OK):
        pycache = tempfile.mkdtemp(prefix="studio-bench-pyc-")

    def probe(name: str) -> dict[str, Any]:
        _, out = _run(ctx, [py, "-m", "studio.ui._probe", name], pycache=pycache)
        return json.loads(out.strip().splitlines()[-1])

    ctx.progress(0.3, "timing process start to first painted window (warm-up)")
    probe("bare-paint"), probe("first-paint"), probe("widgets-paint")
    bare: list[float] = []
    studio: list[dict[str, Any]] = []
    bare_runs: list[dict[str, Any]] = []
    widgets: list[float] = []  # plain PySide6 with as many widgets of each kind as Studio paints
    for i in range(PAINT_RUNS):
        bare_runs.append(probe("bare-paint"))
        bare.append(bare_runs[-1]["first_paint_s"])
        studio.append(probe("first-paint"))
        widgets.append(probe("widgets-paint")["first_paint_s"])
        ctx.progress(0.3 + 0.35 * (i + 1) / PAINT_RUNS, "timing first painted window")
    paints = [r["first_paint_s"] for r in studio]
    ratios = [s / b for s, b in zip(paints, bare, strict=True)]
    first_paint, bare_paint = statistics.median(paints), statistics.median(bare)
    started = [r["started_s"] for r in studio if "started_s" in r]
    usable = [r["usable_s"] for r in studio if "usable_s" in r]
    imported: set[str] = set()
    for r in studio:
        imported.update(r.get("imported_at_paint", []))
    out: dict[str, Any] = {
        "bare_qt_first_paint_s": round(bare_paint, 3),
        "first_paint_s": round(first_paint, 3),
        "first_paint_vs_bare_qt": round(first_paint / bare_paint, 2),
        "bare_qt_first_paint_min_s": round(min(bare), 3),
        "first_paint_min_s": round(min(paints), 3),
        "first_paint_vs_bare_qt_min": round(min(paints) / min(bare), 2),
        "first_paint_vs_bare_qt_pairs": [round(r, 2) for r in ratios],
        "heavy_imports_at_first_paint": sorted(imported),
        "load_average": round(os.getloadavg()[0], 2),
    }
    if len(usable) == len(studio):  # the panel in front built and painted: the artist can work
        out["usable_s"] = round(statistics.median(usable), 3)
        out["usable_vs_bare_qt"] = round(statistics.median(usable) / bare_paint, 2)
        out["usable_vs_bare_qt_pairs"] = [
            round(u / b, 2) for u, b in zip(usable, bare, strict=True)
        ]
        # what bounds it: the same widgets in plain PySide6, against the bare window and Studio
        same = statistics.median(widgets)
        out["same_widgets_qt_first_paint_s"] = round(same, 3)
        out["same_widgets_qt_vs_bare_qt"] = round(same / bare_paint, 2)
        out["usable_vs_same_widgets_qt"] = round(statistics.median(usable) / same, 2)
    cpu = [float(r.get("usable_cpu_s") or r.get("first_paint_cpu_s") or 0) for r in studio]
    bare_cpu = [float(r.get("first_paint_cpu_s") or 0) for r in bare_runs]
    if all(cpu) and all(bare_cpu):  # CPU seconds: what a loaded machine's waits do not blur
        out["bare_qt_first_paint_cpu_s"] = round(statistics.median(bare_cpu), 3)
        out["usable_cpu_s"] = round(statistics.median(cpu), 3)
        out["usable_cpu_vs_bare_qt"] = round(
            statistics.median(cpu) / statistics.median(bare_cpu), 2
        )
    if started:  # the window built: settings, plugins, menus and the visible panels
        out["started_s"] = round(statistics.median(started), 3)
        out["started_vs_bare_qt"] = round(statistics.median(started) / bare_paint, 2)
    return out


# Domain benchmarks, imported only when run: `studio --help` never imports an engine.
LAZY_BENCHMARKS = {
    "music": "studio.music.bench:bench_music",
    "voice": "studio.voice.bench:bench_voice",
    "video": "studio.video.bench:bench_video",
    "image": "studio.image.bench:bench_image",
    "library": "studio.library.bench:bench_library",
    "plugins": "studio.plugins.bench:bench_plugins",
    "project": "studio.project_bench:bench_project",
    "arrange": "studio.arrange.bench:bench_arrange",
}


def run_gpu(
    minutes: float = 8.0,
    device: str = "auto",
    tiny: bool = False,
    out: str = ".",
    as_json: bool = False,
    ctx: JobContext | None = None,
) -> int:
    """``studio bench --gpu``: every GPU figure in one process (:mod:`studio.gpu_bench`), written
    to ``out`` as gpu-bench.json and gpu-bench.md. Returns the exit status."""
    from studio.gpu_bench import main

    return main(minutes, device, tiny, out, as_json, ctx)


def _resolve(name: str) -> Benchmark:
    if name not in BENCHMARKS and name in LAZY_BENCHMARKS:
        import importlib

        module, attr = LAZY_BENCHMARKS[name].split(":")
        BENCHMARKS[name] = getattr(importlib.import_module(module), attr)
    return BENCHMARKS[name]


def benchmark_names() -> list[str]:
    return list(BENCHMARKS) + [n for n in LAZY_BENCHMARKS if n not in BENCHMARKS]


def run_benchmarks(names: list[str] | None, ctx: JobContext | None = None) -> dict[str, Any]:
    """Run the named benchmarks (all when None). Raises KeyError for an unknown name."""
    ctx = ctx or JobContext()
    names = names or benchmark_names()
    unknown = [n for n in names if n not in benchmark_names()]
    if unknown:
        raise KeyError(
            f"unknown benchmark {', '.join(unknown)}; have {', '.join(benchmark_names())}"
        )
    out: dict[str, Any] = {
        "machine": machine_name(),
        "python": platform.python_version(),
        "results": {},
    }
    for index, name in enumerate(names):

        def sub_progress(fraction: float, message: str, index: int = index, name: str = name):
            ctx.progress((index + fraction) / len(names), f"{name}: {message}")

        sub = ctx.child(sub_progress)
        out["results"][name] = _resolve(name)(sub)
    return out


def format_results(results: dict[str, Any]) -> str:
    lines = [f"machine: {results['machine']} (Python {results['python']})"]
    for name, figures in results["results"].items():
        lines.append(f"[{name}]")
        for key, value in figures.items():
            lines.append(f"  {key:32} {value}")
    return "\n".join(lines)
