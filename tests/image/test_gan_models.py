"""Trained generators as the Generate tab's engines (studio.image.gan_models), without Qt: found
in the model folder by their headers, their controls, and grids that a seed reproduces."""

import numpy as np
import pytest

from studio.image.gan_models import ANY_LABEL, describe, find_generators, gan_params, generate
from tests.image.labelled_pictures import sprites


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    import torch

    from studio.image.gan import train_gan

    torch.set_num_threads(1)
    root = sprites(tmp_path_factory.mktemp("pics"), 4, size=16)
    models = tmp_path_factory.mktemp("models")
    train_gan(root, models / "image-gan" / "sprites.safetensors", steps=2, batch=4, arch="modern")
    (models / "image-gan" / "junk.safetensors").write_bytes(b"\x05\x00")
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, np.float32)}, str(models / "image-gan" / "other.safetensors"),
              metadata={"studio_kind": "tagger"})  # fmt: skip
    return models


def test_only_generators_are_listed_with_their_classes(models_dir):
    found = find_generators(models_dir, None)
    assert [m.name for m in found] == ["sprites"]
    model = found[0]
    assert model.labels == ("fire", "water") and model.size == 32 and not model.text
    assert model.title == "sprites (2 classes)" and "your generator" in model.details
    names = [p.name for p in gan_params(model)]
    assert names[0] == "label" and {"seed", "count", "truncation"} <= set(names)


def test_shipped_generators_are_found_at_any_depth(models_dir, tmp_path):
    shipped = tmp_path / "models" / "image"
    shipped.mkdir(parents=True)
    (shipped / "icons-64.safetensors").write_bytes(
        (models_dir / "image-gan" / "sprites.safetensors").read_bytes()
    )
    found = find_generators(models_dir, tmp_path / "models")
    assert [(m.name, m.origin) for m in found] == [("icons-64", "shipped"), ("sprites", "user")]
    assert "shipped with Studio" in found[0].details


def test_a_seed_gives_the_same_grid_and_a_class_is_checked(models_dir):
    path = models_dir / "image-gan" / "sprites.safetensors"
    request = {"model": str(path), "label": "water", "seed": 5, "count": 3, "scale": 1}
    a, b = generate(request), generate(dict(request))
    assert np.array_equal(a.pixels, b.pixels)
    assert a.pixels.shape == (36, 2 + 3 * 34, 3)
    assert a.provenance["params"]["seed"] == 5 and a.provenance["engine"] == "studio/image-gan"
    other = generate({**request, "seed": 6})
    assert not np.array_equal(a.pixels, other.pixels)
    each = generate({**request, "label": ANY_LABEL})
    assert each.provenance["params"]["label"] == ""
    truncated = generate({**request, "truncation": 0.5})
    assert not np.array_equal(a.pixels, truncated.pixels)
    with pytest.raises(ValueError, match="has no class 'earth'; it has: fire, water"):
        generate({**request, "label": "earth"})
    with pytest.raises(ValueError, match="count must be 1 to 64"):
        generate({**request, "count": 0})


def test_a_missing_or_foreign_file_is_a_message(models_dir, tmp_path):
    with pytest.raises(ValueError, match="no longer in"):
        describe(tmp_path / "gone.safetensors")
    with pytest.raises(ValueError, match="not a safetensors file"):
        describe(models_dir / "image-gan" / "junk.safetensors")
    with pytest.raises(ValueError, match="not a Studio generator \\(it is tagger\\)"):
        describe(models_dir / "image-gan" / "other.safetensors")
