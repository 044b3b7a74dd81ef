"""`studio image train-tagger` stopped part-way (issue 16, "training stopped with kill -9 and
resumed"): a run killed with SIGKILL goes on from its last epoch and says so, a stopped run goes
on to the very tagger an unbroken run gives, and a damaged or foreign checkpoint is refused in
words and left as it is."""

import json
import signal
import time

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from studio.cli import main
from studio.core.jobs import Cancelled
from studio.image.tagger import load_tagger, train_tagger
from tests.support.scripts import start_script


def _said(err: str) -> str:
    """The one ``studio:`` line of an error (progress lines may come before it)."""
    lines = [line for line in err.splitlines() if line.startswith("studio:")]
    assert len(lines) == 1, err
    return lines[0]


def _labelled(root, counts=(("a", 6), ("bb", 6))):
    for label, n in counts:
        (root / label).mkdir(parents=True)
        for i in range(n):
            shade = 40 + 25 * i
            colour = (220, shade, 30) if len(label) % 2 else (30, shade, 220)
            Image.new("RGB", (12, 10 + i % 5), colour).save(root / label / f"{i}.png")
    return root


class StopAt:
    """A job context that presses Stop when a progress message contains ``when``."""

    def __init__(self, when: str = "") -> None:
        self.when, self.stopped, self.said = when, False, []

    def progress(self, fraction: float, message: str = "") -> None:
        self.said.append(message)
        if self.when and self.when in message:
            self.stopped = True

    def partial(self, value) -> None:
        pass

    def check_cancelled(self) -> None:
        if self.stopped:
            raise Cancelled()


# Every epoch of the from-scratch CNN made slow (as on a big folder), so the kill lands mid-run.
KILLED_RUN = """
import sys, time, torch
torch.set_num_threads(1)
import studio.image.tagger as tagger

real = tagger._epoch
def slow(*args, **kwargs):
    time.sleep(0.25)
    return real(*args, **kwargs)
tagger._epoch = slow
tagger.train_tagger(sys.argv[1], sys.argv[2], size=16, epochs=30, models=("scratch",))
"""


def test_killed_with_sigkill_mid_training_then_resumed_says_so_and_saves_the_tagger(
    tmp_path, capsys
):
    root = _labelled(tmp_path / "set")
    out = tmp_path / "m.safetensors"
    ckpt = tmp_path / "m.safetensors.ckpt"
    proc = start_script(KILLED_RUN, root, out)
    try:
        deadline = time.monotonic() + 120
        epoch = 0
        while epoch < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if ckpt.is_file():
                epoch = torch.load(ckpt, weights_only=True)["scratch"]["epoch"]
        assert epoch >= 2, proc.stderr.read().decode() if proc.poll() is not None else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # the tagger is written at the end only
    state = torch.load(ckpt, map_location="cpu", weights_only=True)  # whole, not torn
    done = int(state["scratch"]["epoch"])
    assert 2 <= done < 30

    args = ["image", "train-tagger", str(root), "-o", str(out), "--models", "scratch"]
    assert main([*args, "--size", "16", "--epochs", "30"]) == 0
    printed = capsys.readouterr().out
    said = "resumed from the checkpoint of a stopped run: from-scratch CNN after epoch"
    assert f"{said} {done} of 30" in printed
    tagger = load_tagger(out)
    assert tagger.arch == "scratch" and tagger.labels == ["a", "bb"] and tagger.size == 16
    assert not ckpt.exists()  # saved: nothing left to resume


@pytest.mark.parametrize(
    ("models", "fine_tune", "stop_at", "resumed"),
    [
        (("scratch",), 0, "from scratch: epoch 3/6", "from-scratch CNN after epoch 3 of 6"),
        (("transfer",), 2, "fine-tuning epoch 1/2", "fine-tuning after epoch 1 of 2"),
    ],
    ids=["scratch", "fine-tuning"],
)
def test_a_stopped_run_goes_on_to_the_tagger_an_unbroken_run_gives(
    tmp_path, monkeypatch, models, fine_tune, stop_at, resumed
):
    import itertools

    import studio.image.tagger as tagger_module

    # every epoch "beats" the last on validation, so the tagger saved is the last epoch's: it
    # depends on every epoch (batches, augmentation, dropout) before and after the stop
    counter = itertools.count(1)
    monkeypatch.setattr(tagger_module, "_accuracy", lambda pred, truth: float(next(counter)))
    root = _labelled(tmp_path / "set")
    settings = {"size": 32 if fine_tune else 16, "epochs": 6, "fine_tune": fine_tune}
    unbroken = train_tagger(root, tmp_path / "a.safetensors", models=models, **settings)
    assert unbroken.resumed == ""
    out = tmp_path / "b.safetensors"
    with pytest.raises(Cancelled):
        train_tagger(root, out, models=models, ctx=StopAt(stop_at), **settings)
    assert (tmp_path / "b.safetensors.ckpt").is_file() and not out.exists()
    ctx = StopAt()
    report = train_tagger(root, out, models=models, ctx=ctx, **settings)
    assert report.resumed == resumed and report.as_json()["resumed"] == resumed
    assert f"resuming from b.safetensors.ckpt: {resumed}" in ctx.said
    a, b = load_file(tmp_path / "a.safetensors"), load_file(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "b.safetensors.ckpt").exists()


def test_a_damaged_or_foreign_checkpoint_is_refused_in_words_and_left_as_it_is(tmp_path, capsys):
    root = _labelled(tmp_path / "set")
    out = tmp_path / "m.safetensors"
    ckpt = tmp_path / "m.safetensors.ckpt"
    args = ["image", "train-tagger", str(root), "-o", str(out), "--models", "scratch"]
    args += ["--epochs", "2", "--size", "16"]
    for foreign in (b"PK\x03\x04 half a file", None, "gan"):
        if foreign is None:  # another program's torch file
            torch.save({"model": {"w": torch.zeros(2)}, "step": 3}, ckpt)
        elif foreign == "gan":  # a generator's training checkpoint renamed
            torch.save({"meta": {"arch": "dcgan", "size": 32}, "gen": {}}, ckpt)
        else:
            ckpt.write_bytes(foreign)
        kept = ckpt.read_bytes()
        assert main(args) == 1
        err = _said(capsys.readouterr().err)
        assert "m.safetensors.ckpt is not a checkpoint of this tagger (damaged, or another" in err
        assert "it was left as it is: delete it, or train with --fresh" in err
        assert "Traceback" not in err
        assert ckpt.read_bytes() == kept and not out.exists()
    # a real checkpoint with a part cut away: refused the same way when it is read back
    ckpt.unlink()
    with pytest.raises(Cancelled):
        train_tagger(root, out, size=16, epochs=4, models=("scratch",), ctx=StopAt("epoch 2/4"))
    state = torch.load(ckpt, weights_only=True)
    del state["scratch"]["opt"]
    torch.save(state, ckpt)
    with pytest.raises(ValueError, match="not a checkpoint of this tagger .*: its opt is missing"):
        train_tagger(root, out, size=16, epochs=4, models=("scratch",))
    # --fresh starts over and replaces it
    assert main([*args, "--fresh"]) == 0
    assert "resumed" not in capsys.readouterr().out
    assert load_tagger(out).labels == ["a", "bb"] and not ckpt.exists()


def test_another_trainings_checkpoint_is_replaced_and_said(tmp_path, capsys):
    root = _labelled(tmp_path / "set")
    out = tmp_path / "m.safetensors"
    with pytest.raises(Cancelled):
        train_tagger(root, out, size=16, epochs=6, models=("scratch",), ctx=StopAt("epoch 2/6"))
    args = ["image", "train-tagger", str(root), "-o", str(out), "--models", "scratch"]
    assert main([*args, "--size", "16", "--epochs", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resumed"] == ""
    assert (
        "m.safetensors.ckpt was the checkpoint of another training (epochs 6 (now 3))"
        in (report["note"])
    )
    assert "started over" in report["note"]
    # a kill, then a picture added: the checkpoint was made on other pictures
    with pytest.raises(Cancelled):
        train_tagger(root, out, size=16, epochs=6, models=("scratch",), ctx=StopAt("epoch 2/6"))
    Image.new("RGB", (9, 9), (200, 200, 0)).save(root / "a" / "new.png")
    report = train_tagger(root, out, size=16, epochs=6, models=("scratch",))
    assert report.resumed == ""
    assert "folder's pictures changed since: 12 pictures then, 13 now" in report.note
