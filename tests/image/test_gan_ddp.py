"""The image GAN under torchrun: two CPU processes (gloo), a tiny set, a few steps."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.image.labelled_pictures import sprites

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return sprites(tmp_path_factory.mktemp("sprites"), 6)


def _torchrun(tmp_path, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_DATA_HOME=str(tmp_path / "data"))
    return subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc_per_node=2", *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.slow
def test_train_gan_command_under_torchrun(pictures, tmp_path):
    from studio.image.gan import load_generator, sample

    out = tmp_path / "ddp.safetensors"
    run = _torchrun(
        tmp_path, "-m", "studio", "image", "train-gan", str(pictures), "-o", str(out),
        "--arch", "dcgan", "--steps", "3", "--batch", "4", "--device", "cpu", "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)  # one report: rank 1 prints nothing
    assert report["processes"] == 2 and report["steps"] == 3
    assert report["labels"] == ["fire", "water"]
    card = (tmp_path / "ddp.safetensors.card.toml").read_text()
    assert "12 pictures" in card  # the whole set, though each process saw half
    assert (tmp_path / "ddp.samples.png").is_file()
    images, _ = sample(load_generator(out), 2, seed=0, label="water")
    assert images.shape == (2, 3, 32, 32)


SCRIPT = """
import json, sys
import numpy as np
import torch.distributed as dist
from safetensors.numpy import load_file
from studio.image.gan import train_gan

folder, out = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
rank = dist.get_rank()
a = train_gan(folder, out + "/a.safetensors", steps=2, batch=4, seed=5, arch="modern")
b = train_gan(folder, out + "/b.safetensors", steps=2, batch=4, seed=5, arch="modern")
c = train_gan(folder, out + "/c.safetensors", steps=2, batch=4, seed=6, arch="modern")
if rank == 0:
    wa, wb, wc = (load_file(out + f"/{n}.safetensors") for n in "abc")
more = train_gan(folder, out + "/c.safetensors", steps=4, batch=4, seed=6, arch="modern")
if rank == 0:
    print(json.dumps({
        "same_seed_same": all(np.array_equal(wa[k], wb[k]) for k in wa),
        "other_seed_differs": any(not np.array_equal(wa[k], wc[k]) for k in wa),
        "processes": a.processes,
        "resumed_from": more.resumed_from,
        "steps": more.steps,
    }))
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_training_repeats_for_a_seed_and_resumes(pictures, tmp_path):
    script = tmp_path / "ddp_gan.py"
    script.write_text(textwrap.dedent(SCRIPT))
    run = _torchrun(tmp_path, str(script), str(pictures), str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {
        "same_seed_same": True,
        "other_seed_differs": True,
        "processes": 2,
        "resumed_from": 2,
        "steps": 4,
    }
