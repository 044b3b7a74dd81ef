"""Train on my MIDI folder… (the Music panel's button): train a transformer, an LSTM, a VAE or a
GAN on a folder of the artist's MIDI files in the background (the JobRunner), with progress, Stop
and a live plot of the training loss and the held-out score.

The engines are the ones ``studio music train --arch ...`` runs:
:func:`studio.music.corpus.build_corpus` reads the folder; :func:`studio.music.training.train`
(the transformer) or :func:`~studio.music.families.trainer.train_family` trains, resumably (training
again with the same settings goes on from the checkpoint); :func:`studio.music.cli.export` or
``export_family`` writes the model with its card into ``<model folder>/music/``, where the Music
panel's Model list finds it.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.ui.dialogs import files
from studio.ui.dialogs.image_train import named
from studio.ui.dialogs.training_job import (
    NO_FOLDER,
    ContextRelay,
    FolderListing,
    TrainingJobMixin,
)
from studio.ui.widgets.training_plots import LossPlot

__all__ = ["TrainMusicDialog", "ScoreRelay", "train_on_folder"]

# "step 40/200, loss 2.345, held-out nll 2.456" (the transformer's names no metric: its loss)
_STEP = re.compile(r"step (\d+)/\d+, loss (\S+?)(?:, held-out (?:(\S+) )?(\S+))?$")
_MIDI = (".mid", ".midi")
_FAMILIES = (
    ("transformer", "Transformer: generate, continue, infill, harmonize"),
    ("lstm", "LSTM: generate and continue (folk-rnn style)"),
    ("vae", "VAE: interpolate and variations (MusicVAE style)"),
    ("gan", "GAN: drum grooves, alone or under a melody (MuseGAN style)"),
)


class ScoreRelay(ContextRelay):
    """A job context for the trainer that passes everything on and also hands the GUI, as
    partial values, ``{"scores": [(step, training loss, held-out score)], "metric": name}`` at
    each held-out evaluation (read from the trainer's progress messages)."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._last_val: str | None = None

    def progress(self, fraction: float, message: str = "") -> None:
        found = _STEP.search(message or "")
        if found and found[4] and found[4] != self._last_val:
            self._last_val = found[4]
            self.ctx.partial({"scores": [(int(found[1]), float(found[2]), float(found[4]))],
                              "metric": found[3] or "loss"})  # fmt: skip
        self.ctx.progress(fraction, message)


def train_on_folder(folder: Path, arch: str, preset: str, minutes: float, seed: int,
                    fresh: bool, work_dir: Path, models_dir: Path, device: str,
                    ctx) -> dict[str, Any]:  # fmt: skip
    """Read ``folder``'s MIDI files, train ``arch`` for at most ``minutes``, write the model and
    its card into ``models_dir/music``. Qt-free (the dialog's job). Raises ValueError when the
    folder has nothing to learn from."""
    from studio.music.corpus import build_corpus, is_heldout

    ctx.progress(0.0, f"reading the MIDI files in {folder.name}")
    corpus, report = build_corpus([], [folder], ctx=ctx, workers=1)
    pieces = list(corpus.pieces)
    if len(pieces) < 2:
        raise ValueError(
            f"{folder.name} has {len(pieces)} readable piece{'s' * (len(pieces) != 1)}: "
            "training needs at least two (one is held out to score the model)"
        )
    held = [p for p in pieces if is_heldout(p.piece_id)] or pieces[::5]  # at least one
    held_ids = {id(p) for p in held}
    train = [p for p in pieces if id(p) not in held_ids]
    run_dir = work_dir / f"{arch}-{preset}-{folder.resolve().name}"
    name = f"my-{arch}-{folder.resolve().name}".replace(" ", "-")
    target = models_dir / "music" / f"{name}.safetensors"
    command = (f"studio music train --arch {arch} --preset {preset} --minutes {minutes:g} "
               f"--seed {seed} (on the corpus of {folder})")  # fmt: skip
    relay = ScoreRelay(ctx)
    if arch == "transformer":
        from dataclasses import replace

        from studio.music.cli import export
        from studio.music.training import PRESETS, TrainConfig
        from studio.music.training import train as train_transformer

        tcfg = replace(TrainConfig(**PRESETS[preset]), minutes=minutes, seed=seed)
        tresult = train_transformer(tcfg, train, held, run_dir, relay, device, resume=not fresh)
        ctx.progress(1.0, "writing the model and its card")
        export(tresult.checkpoint, target, name, command, tresult)
        step, steps = tresult.step, tcfg.steps
        val = None if tresult.val_loss is None else {"loss": tresult.val_loss}
        seconds = tresult.seconds
    else:
        from studio.music.cli import export_family
        from studio.music.families.trainer import PRESETS as FAMILY_PRESETS
        from studio.music.families.trainer import FamilyTrainConfig, train_family

        cfg = FamilyTrainConfig(arch=arch, **FAMILY_PRESETS[arch][preset])
        cfg.minutes, cfg.seed = minutes, seed
        result = train_family(cfg, train, held, run_dir, relay, device, resume=not fresh)
        ctx.progress(1.0, "writing the model and its card")
        export_family(result.checkpoint, target, name, command, train)
        step, steps, val, seconds = result.step, cfg.steps, result.val, result.seconds
    return {
        "model_file": target,
        "step": step,
        "steps": steps,
        "val": val,
        "pieces": len(train),
        "held": len(held),
        "failed": report.failed,
        "seconds": seconds,
    }


def count_midi(path: Path, ctx=None) -> int:
    """How many MIDI files ``path`` holds, subfolders too (names only). Raises OSError; with a
    job context ``ctx``, Cancelled once it is cancelled."""
    count = 0
    for i, f in enumerate(path.rglob("*")):
        count += f.suffix.lower() in _MIDI
        if ctx is not None and i % 1000 == 0:
            ctx.check_cancelled()
    return count


def describe_midi_folder(path: Path, ctx=None) -> FolderListing:
    """(on a worker) How many MIDI files ``path`` holds, or why it cannot be trained on (an
    unreadable folder: OSError, said by ``read_folder``)."""
    count = count_midi(path, ctx)
    if not count:
        return (None, f"{path}\nno MIDI files (.mid, .midi) in it",
                "⚠ Choose a folder with MIDI files in it.")  # fmt: skip
    return path, f"{path}\n{count} MIDI file{'s' * (count != 1)}", "Ready: press Train."


class TrainMusicDialog(TrainingJobMixin, QDialog):
    """Train on my MIDI folder…: the folder, the family, minutes, Train / Stop / Close, progress,
    the status line and the live loss plot."""

    stopped_message = ("Stopped. Train again with the same settings to go on from the last "
                       "checkpoint.")  # fmt: skip

    def __init__(self, context, parent: QWidget | None = None) -> None:
        from studio.ui.panels.base import ThinProgressBar

        super().__init__(parent)
        self.context = context
        self.job = None
        self.folder: Path | None = None
        self.result: dict[str, Any] | None = None
        self.setObjectName("music_train_dialog")
        self.setWindowTitle("Train on my MIDI folder")
        self.folder_button = named(QPushButton("MIDI folder…"), "music.train_folder",
                                   "The folder of your MIDI files to learn from (subfolders "
                                   "too)")  # fmt: skip
        self.folder_label = QLabel(NO_FOLDER)
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.family_combo = named(QComboBox(), "music.train_family",
                                  "Which kind of model to train")  # fmt: skip
        for arch, text in _FAMILIES:
            self.family_combo.addItem(text, arch)
        self.size_combo = named(QComboBox(), "music.train_size",
                                "Small: the shipped size; tiny: a quick try")  # fmt: skip
        self.size_combo.addItem("small", "small")
        self.size_combo.addItem("tiny (a quick try)", "tiny")
        self.minutes = named(QDoubleSpinBox(), "music.train_minutes",
                             "How long to train at most; train again to go on")  # fmt: skip
        self.minutes.setRange(0.05, 24 * 60)
        self.minutes.setDecimals(2)
        self.minutes.setValue(20)
        self.minutes.setSuffix(" min")
        self.seed = named(QSpinBox(), "music.train_seed",
                          "The same seed and files train the same model")  # fmt: skip
        self.seed.setRange(0, 2**31 - 1)
        self.fresh = named(QCheckBox("Start over"), "music.train_fresh",
                           "Ignore the checkpoint of an earlier training with these "
                           "settings")  # fmt: skip
        self.start_button = named(QPushButton("Train"), "music.train_start",
                                  "Start training (in the background)")  # fmt: skip
        self.start_button.setDefault(True)
        self.stop_button = named(QPushButton("Stop"), "music.train_stop", "Stop training")
        self.stop_button.setEnabled(False)
        self.close_button = named(
            QPushButton("Close"),
            "music.train_close",
            "Close this window (training goes on in the background)",
        )
        self.use_button = named(
            QPushButton("Use it in the Music panel"),
            "music.train_use",
            "Choose the trained model in the Music panel's Model list",
        )
        self.use_button.setEnabled(False)
        self.progress = ThinProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel("Choose a folder of MIDI files.")
        self.status.setObjectName("music_train_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loss_plot = LossPlot(("training loss", "held-out"))
        self.loss_plot.setObjectName("music_train_losses")
        self.loss_plot.setToolTip("The training loss and the held-out score at each evaluation")

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow(self.folder_button, self.folder_label)
        form.addRow("Model", self.family_combo)
        form.addRow("Size", self.size_combo)
        form.addRow("Minutes", self.minutes)
        form.addRow("Seed", self.seed)
        form.addRow("", self.fresh)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.use_button)
        left.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addLayout(left, 2)
        outer.addWidget(self.loss_plot, 3)
        self.folder_button.clicked.connect(self.choose_folder)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.close)
        self.use_button.clicked.connect(self.use_result)
        self.resize(860, 460)

    # -- the folder --------------------------------------------------------------------------------
    def choose_folder(self, *_args) -> Path | None:
        """Ask for the folder and count its MIDI files in the background."""
        path = files.ask_folder(self, "music-training", "A folder of your MIDI files")
        if path is not None:
            self.read_folder(path, describe_midi_folder)
        return path

    # -- the job -----------------------------------------------------------------------------------
    def start(self, *_args):
        """Train in the background; the model lands in the model folder with its card."""
        if self.busy():
            self.status.setText("Already training: wait, or press Stop.")
            return None
        if self.reading():
            self.status.setText("Still reading the folder: a moment.")
            return None
        if self.folder is None:
            self.status.setText("Choose a folder of MIDI files first.")
            return None
        from studio.core import paths

        folder, arch = self.folder, str(self.family_combo.currentData())
        preset, minutes = str(self.size_combo.currentData()), float(self.minutes.value())
        seed, fresh, device = int(self.seed.value()), self.fresh.isChecked(), self.context.device
        work_dir = paths.data_dir() / "training" / "music"
        models_dir = self.context.settings.models_dir()

        def work(_r, ctx):
            return train_on_folder(folder, arch, preset, minutes, seed, fresh, work_dir,
                                   models_dir, device, ctx)  # fmt: skip

        handle = self.context.runner.submit(
            JobSpec(
                title=f"Music: train a {arch.upper()} on {folder.name}",
                fn=work,
                family="music-train",
                key="music.train",
            )  # fmt: skip
        )
        self.loss_plot.clear()
        self.use_button.setEnabled(False)
        self._started = time.monotonic()
        return self.watch(handle)

    def _update_buttons(self) -> None:
        super()._update_buttons()
        self.family_combo.setEnabled(not self.busy())

    def _on_job_partial(self, value) -> None:
        if not self._mine() or not isinstance(value, dict) or "scores" not in value:
            return
        self.loss_plot.names = ("training loss", f"held-out {value.get('metric', 'score')}")
        points = [p for p in value["scores"] if all(math.isfinite(v) for v in p[1:])]
        self.loss_plot.add(points)

    def _on_job_succeeded(self, result: dict[str, Any]) -> None:
        if not self._mine():
            return
        self.result = result
        self.progress.setValue(1000)
        val = result["val"] or {}
        shown = ", ".join(f"held-out {k} {v:.3f}" for k, v in val.items())
        early = (f" (stopped at the time limit; train again to go on to step {result['steps']})"
                 if result["step"] < result["steps"] else "")  # fmt: skip
        failed = f"; {result['failed']} file(s) could not be read" if result["failed"] else ""
        self.status.setText(
            f"Trained {result['step']} steps on {result['pieces']} pieces ({result['held']} held "
            f"out){early}{failed}. {shown}.\nSaved {Path(result['model_file']).name} with its "
            f"card in {Path(result['model_file']).parent}; it is in the Music panel's Model list."
        )
        self.use_button.setEnabled(True)
        panel = getattr(self.parent(), "panels", {}).get("music")
        if panel is not None:
            panel.refresh_models()

    def use_result(self, *_args) -> bool:
        """Choose the trained model in the Music panel's Model list, raised."""
        panel = self.raise_result_panel("music")
        if panel is None:
            return False
        panel.refresh_models()
        return panel.controls.select_model(self.result["model_file"])
