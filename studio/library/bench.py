"""``studio bench library``: scanning 10,000 small media files, recommendation latency on a
100,000-item synthetic catalog with 2,000 users (target: p95 under 10 ms), and retraining every
recommender on MovieLens (each one's time as a ratio to ALS's, measured in the same run)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext

__all__ = ["bench_library"]


def _make_files(root: Path, count: int) -> None:
    """``count`` small media files (WAV headers, PNGs, MIDI) in nested folders."""
    import mido

    from studio.image.io import Picture, save_picture

    png = root / "seed.png"
    save_picture(Picture(np.full((8, 8, 3), 128, np.uint8)), png, provenance=False)
    png_bytes = png.read_bytes()
    png.unlink()
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    track.append(mido.Message("note_on", note=60, velocity=64, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    mid.tracks.append(track)
    mid_path = root / "seed.mid"
    mid.save(mid_path)
    mid_bytes = mid_path.read_bytes()
    mid_path.unlink()
    for i in range(count):
        folder = root / f"album{i // 100:03d}"
        folder.mkdir(exist_ok=True)
        if i % 2:
            (folder / f"p{i}.png").write_bytes(png_bytes + i.to_bytes(4, "little"))
        else:
            (folder / f"m{i}.mid").write_bytes(mid_bytes)


def _latency(count: int = 100_000, users: int = 2_000, probes: int = 200) -> dict[str, Any]:
    """p50 and p95 of one user's hybrid recommendation (with reasons) on a synthetic catalog."""
    import os

    import scipy.sparse as sp

    from studio.library.recommenders import Hybrid, Interactions

    rng = np.random.default_rng(0)
    per_user = 40
    rows = np.repeat(np.arange(users), per_user)
    # a popularity skew like real catalogs: item ids drawn from a Zipf-like law
    cols = np.minimum(count - 1, (rng.pareto(1.2, users * per_user) * 50).astype(int))
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(users, count))
    matrix.sum_duplicates()
    vectors = rng.normal(size=(count, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data = Interactions([str(i) for i in range(count)], [str(u) for u in range(users)], matrix,
                        None, vectors)  # fmt: skip
    began = time.perf_counter()
    model = Hybrid({"als": 1.0, "item-knn": 0.5, "content": 0.25, "popularity": 0.1},
                   diversity=0.2).fit(data)  # fmt: skip
    fit_s = time.perf_counter() - began
    model.recommend(matrix[0], 10)  # the first call stacks the linear parts' matrices
    times = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for user in rng.choice(users, probes, replace=False):
        row = matrix[int(user)]
        start = time.perf_counter()
        model.recommend(row, 10)  # a new row each time: ALS folds the user in
        times.append(time.perf_counter() - start)
    p95 = float(np.percentile(times, 95)) * 1000
    return {
        "synthetic_items": count,
        "synthetic_users": users,
        "recommend_p50_ms": round(float(np.percentile(times, 50)) * 1000, 1),
        "recommend_p95_ms": round(p95, 1),
        "recommend_p95_vs_10ms_target": round(p95 / 10, 2),
        "load_average_during_latency": round(load, 2),
        "synthetic_fit_all_s": round(fit_s, 1),
        "als_on_gpu": bool(getattr(model.parts.get("als"), "used_gpu", False)),
    }


def bench_library(ctx: JobContext) -> dict[str, Any]:
    """scan 10,000 small files (and a rescan), recommendation p50/p95 on 100,000 items, retrain
    all recommenders on MovieLens"""
    import os

    from studio.library.catalog import Catalog

    results: dict[str, Any] = {"cpu_threads": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "media"
        root.mkdir()
        ctx.progress(0.02, "making 10,000 files")
        _make_files(root, 10_000)
        catalog = Catalog(Path(tmp) / "lib.sqlite")
        catalog.add_folder(root)
        ctx.progress(0.1, "first scan")
        began = time.perf_counter()
        report = catalog.scan()
        results["scan_10000_files_s"] = round(time.perf_counter() - began, 2)
        results["scan_vs_60s_target"] = round(results["scan_10000_files_s"] / 60, 3)
        results["scan_files"] = report.files
        began = time.perf_counter()
        catalog.scan()
        results["rescan_unchanged_s"] = round(time.perf_counter() - began, 2)
        results["rescan_vs_first_scan"] = round(
            results["rescan_unchanged_s"] / results["scan_10000_files_s"], 3
        )
        catalog.close()
    ctx.check_cancelled()
    ctx.progress(0.4, "recommendation latency on 100,000 items")
    results.update(_latency())
    ctx.check_cancelled()
    ctx.progress(0.7, "retraining every recommender on MovieLens")
    from studio.library.evaluate import _catalog, _movie_vectors, load_movielens, split
    from studio.library.recommenders import RECOMMENDERS, Hybrid

    frame = load_movielens()
    ids, vectors, titles = _movie_vectors(frame, embed=True)
    catalog = _catalog(frame, ids, vectors, titles)
    data = split(frame, ids, vectors, titles, catalog=catalog)
    seconds: dict[str, float] = {}
    parts = {}
    for name, cls in RECOMMENDERS.items():
        if name == "hybrid":
            continue
        ctx.check_cancelled()
        began = time.perf_counter()
        parts[name] = cls().fit(data.train)
        seconds[name] = time.perf_counter() - began
    began = time.perf_counter()
    Hybrid(parts={k: parts[k] for k in ("als", "item-knn", "content", "popularity")}).fit(
        data.train)  # fmt: skip
    seconds["hybrid (parts fitted)"] = time.perf_counter() - began
    results["movielens_retrain_all_s"] = round(sum(seconds.values()), 2)
    results["movielens_fit_s_vs_als"] = {k: round(v / seconds["als"], 2)
                                         for k, v in seconds.items()}  # fmt: skip
    results["movielens_als_fit_s"] = round(seconds["als"], 2)
    ctx.progress(1.0, "done")
    return results
