"""`studio bench image`'s rows for the image models of our own, at toy sizes: GAN training steps
per second (dcgan against modern), icons per second and first-icon latency, tagger images per
second (transfer against from scratch)."""

import pytest

from studio.core.jobs import JobContext
from studio.image.bench import gan_training_rows, icon_rows, tagger_rows


def test_gan_training_rows_compare_dcgan_and_modern_at_equal_batch():
    rows = gan_training_rows(JobContext(), seconds=0.5, rounds=1, size=32, batch=8)
    dcgan, modern = (
        rows["gan_train_steps_per_s_dcgan_cpu"],
        rows["gan_train_steps_per_s_modern_cpu"],
    )
    assert dcgan > 0 and modern > 0
    assert rows["gan_train_modern_vs_dcgan_cpu"] == pytest.approx(modern / dcgan, rel=0.01)
    assert rows["gan_train_setting"] == "32 px, batch 8, 3 classes"


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_icon_rows_time_a_batch_and_a_warm_click(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rows = icon_rows(JobContext(), n=8, rounds=1)
    assert _files(tmp_path / "cache") == []  # made-up prompts are not left in the user's cache
    assert rows["icon_model"] in ("shipped icon generator", "untrained text generator, 64 px")
    assert rows["icons_per_s_64px"] > 0
    assert rows["first_icon_warm_ms"] > 0 and rows["first_icon_prompt_embedding_ms"] > 0
    ratio = rows["first_icon_warm_ms"] / rows["first_icon_prompt_embedding_ms"]
    assert rows["first_icon_vs_embedding_alone"] == pytest.approx(ratio, rel=0.05)


def test_tagger_rows_compare_transfer_and_scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rows = tagger_rows(JobContext(), per_class=6, epochs=1, infer_n=32, rounds=1)
    assert _files(tmp_path / "cache") == []  # nor the made-up pictures' features
    for what in ("train", "infer"):
        t = rows[f"tagger_{what}_images_per_s_transfer"]
        s = rows[f"tagger_{what}_images_per_s_scratch"]
        assert t > 0 and s > 0
        assert rows[f"tagger_{what}_transfer_vs_scratch"] == pytest.approx(t / s, rel=0.05)


def test_a_cancelled_bench_stops():
    from studio.core.jobs import Cancelled

    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        gan_training_rows(ctx, seconds=0.5, rounds=1, size=32, batch=8)
