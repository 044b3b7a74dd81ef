"""A larger model started from a trained smaller one computes the same thing until it trains."""

import pytest
import torch

from studio.music.model import ModelConfig, MusicTransformer, grow_from


def test_grown_model_matches_its_source_then_trains_its_new_layers():
    torch.manual_seed(0)
    small = MusicTransformer(ModelConfig(40, 32, 16, 2, 2, 0.0)).eval()
    big = MusicTransformer(ModelConfig(44, 32, 16, 4, 2, 0.0)).eval()
    x = torch.randint(0, 40, (2, 20))
    assert not torch.allclose(small(x)[0], big(x)[0][..., :40])
    grow_from(big, small)
    assert torch.allclose(small(x)[0], big(x)[0][..., :40], atol=1e-6)
    # the new layers are not dead: a step of training moves them
    big.train()
    loss = torch.nn.functional.cross_entropy(big(x)[0].reshape(-1, 44), x.reshape(-1))
    loss.backward()
    assert big.blocks[3].mlp[2].weight.grad.abs().sum() > 0


def test_grow_refuses_other_widths():
    small = MusicTransformer(ModelConfig(40, 32, 16, 2, 2))
    wide = MusicTransformer(ModelConfig(40, 32, 32, 4, 2))
    with pytest.raises(ValueError, match="cannot grow"):
        grow_from(wide, small)
