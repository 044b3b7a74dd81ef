"""A tiny random Stable Diffusion pipeline written to a folder, tokenizer included: what the tests
and ``studio bench image`` run the real loading and generation code on, offline. It draws noise;
it is a stand-in for the artist's own models, not a model."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["make_tiny_pipeline"]


def make_tiny_pipeline(folder: str | Path, seed: int = 0, bin_weights: bool = False) -> Path:
    """Write a tiny SD 1.x-shaped diffusers folder (safetensors; pickled .bin when
    ``bin_weights``, to test the refusal) and return its path."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from studio.image.diffusion import quiet_libraries

    quiet_libraries()

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c + "</w>"] = len(vocab)
    tok_files = folder / ".tokenizer-source"
    tok_files.mkdir(exist_ok=True)
    (tok_files / "vocab.json").write_text(json.dumps(vocab))
    (tok_files / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(tok_files / "vocab.json"), str(tok_files / "merges.txt"), model_max_length=16
    )
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        norm_num_groups=4, attention_head_dim=2,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8,), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
        latent_channels=4, norm_num_groups=4, sample_size=16,
    )  # fmt: skip
    text = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, hidden_size=16, intermediate_size=32,
            layer_norm_eps=1e-5, num_attention_heads=2, num_hidden_layers=2, pad_token_id=1,
            vocab_size=len(vocab), max_position_embeddings=16,
        )
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(folder, safe_serialization=not bin_weights)
    for leftover in tok_files.iterdir():
        leftover.unlink()
    tok_files.rmdir()
    return folder
