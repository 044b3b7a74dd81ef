"""`studio bench --gpu` end to end on the CPU at toy sizes: what a GPU lease only has to execute."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from studio import gpu_bench  # noqa: E402
from studio.cli import main  # noqa: E402

FIGURE_KEYS = {
    "what",
    "unit",
    "value",
    "reference",
    "reference_value",
    "ratio",
    "device",
    "machine",
    "reference_device",
    "reference_machine",
    "seconds",
}


def test_gpu_bench_tiny_on_cpu_writes_json_and_table(tmp_path, capsys):
    status = main(
        ["bench", "--gpu", "--device", "cpu", "--tiny", "--minutes", "1", "--json"]
        + ["--out", str(tmp_path)]
    )
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "gpu-bench.json").read_text())
    assert printed == report
    assert {"machine", "device", "tiny", "minutes", "missing", "figures", "load_average"} <= set(
        report
    )
    assert report["device"] == "cpu" and report["tiny"] is True
    assert list(report["figures"]) == list(gpu_bench.FIGURES)
    for name, figure in report["figures"].items():
        if name in report["missing"]:  # a package this install lacks: said, not hidden
            assert figure["skipped"].startswith("missing ")
            continue
        assert "error" not in figure, (name, figure)
        assert FIGURE_KEYS <= set(figure), (name, sorted(figure))
        assert figure["value"] > 0 and figure["reference_value"] > 0
        assert figure["ratio"] == pytest.approx(
            figure["value"] / figure["reference_value"], rel=0.01, abs=0.002
        )
        assert figure["machine"] and figure["reference_machine"]
    music = report["figures"]["music_kv_cache"]
    # the same greedy tokens from the cache and from recomputing: the cache changes speed only
    assert music["same_tokens_share"] >= 0.9
    table = (tmp_path / "gpu-bench.md").read_text()
    assert "| figure | measured | reference | ratio | machine |" in table
    assert table.count("\n| ") >= 1 + len(gpu_bench.FIGURES)  # the header and one row each


def test_missing_packages_are_named_and_their_figures_skipped(monkeypatch):
    real = gpu_bench.importlib.util.find_spec

    def hide_diffusers(name, *args):
        return None if name == "diffusers" else real(name, *args)

    monkeypatch.setattr(gpu_bench.importlib.util, "find_spec", hide_diffusers)
    assert gpu_bench.missing_packages() == {"image_diffusion": ["diffusers"]}
    report = gpu_bench.run_gpu_bench(0.1, "cpu", tiny=True, only=["image_diffusion"])
    assert report["figures"]["image_diffusion"]["skipped"] == "missing diffusers"
    assert "missing diffusers" in gpu_bench.markdown_table(report)


def test_asking_for_cuda_without_it_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        gpu_bench.run_gpu_bench(0.1, "cuda", tiny=True)
