"""Image ▸ Train a generator… and Image ▸ Train a tagger…: train on a folder of the artist's own
pictures in the background (the JobRunner), with progress, Stop, live sample grids and a loss plot
for a generator, and the held-out scores with a confusion-matrix plot for a tagger.

The engines are ``studio.image.gan.train_gan`` and ``studio.image.tagger.train_tagger``, the
same functions ``studio image train-gan`` and ``train-tagger`` run. A trained generator lands in
``<model folder>/image-gan`` with its card and is chosen on the Image panel's Generate tab; a
trained tagger lands in ``<model folder>/tagger`` and the Library tags pictures with it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.ui.dialogs import files
from studio.ui.dialogs.training_job import (
    NO_FOLDER,
    ContextRelay,
    FolderListing,
    TrainingJobMixin,
)
from studio.ui.widgets.training_plots import ConfusionPlot, LossPlot, PixelView

__all__ = ["TrainGeneratorDialog", "TrainTaggerDialog", "add_image_menu", "LossRelay"]

_LOSSES = re.compile(r"step (\d+): D (\S+), G (\S+)$")


#: the precisions the dialogs offer (``--precision`` values) and their names
_ARITHMETIC = {"auto": "Auto", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def named(widget, name: str, tip: str = ""):
    """``widget`` with its stable objectName and tooltip (as panels name theirs)."""
    widget.setObjectName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


def add_image_menu(window) -> QMenu:
    """The window's Image menu (Train a generator…, Train a tagger…); the dialogs are made on
    first use."""
    bar = window.menuBar()
    menu = QMenu("&Image", bar)
    menu.setObjectName("menu.image")
    help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_action is not None:  # before Help, which stays last
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    for name, text, tip, cls in (
        ("image.train_generator", "Train a &generator…",
         "Train a picture generator on a folder of your own pictures (subfolders are classes)",
         TrainGeneratorDialog),
        ("image.train_tagger", "Train a &tagger…",
         "Teach a tagger your labels: one subfolder of pictures per label", TrainTaggerDialog),
    ):  # fmt: skip
        action = menu.addAction(text)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False, c=cls: open_dialog(window, c))
    return menu


def open_dialog(window, cls):
    """Show the window's one ``cls`` dialog (made on first use), in front."""
    attr = f"_{cls.__name__}"
    dialog = getattr(window, attr, None)
    if dialog is None:
        dialog = cls(window.context, window)
        setattr(window, attr, dialog)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


class LossRelay(ContextRelay):
    """A job context for ``train_gan`` that passes everything on and also hands the GUI, as
    partial values, the losses of every step (read from its progress messages; a few times a
    second) and each new sample grid as pixels (read here, in the worker, so the GUI thread never
    touches the disk)."""

    def __init__(self, ctx, every_s: float = 0.3) -> None:
        super().__init__(ctx)
        self.every_s = every_s
        self._points: list[tuple[int, float, float]] = []
        self._last = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        found = _LOSSES.search(message or "")
        if found:
            self._points.append((int(found[1]), float(found[2]), float(found[3])))
            now = time.monotonic()
            if now - self._last >= self.every_s:
                self.flush()
                self._last = now
        self.ctx.progress(fraction, message)

    def flush(self) -> None:
        if self._points:
            self.ctx.partial({"losses": self._points})
            self._points = []

    def partial(self, value: Any) -> None:
        if isinstance(value, str) and value.endswith(".png"):
            import numpy as np
            from PIL import Image as PILImage

            self.flush()
            try:
                with PILImage.open(value) as img:
                    value = {"samples": np.asarray(img.convert("RGB"))}
            except OSError:
                return  # a grid being replaced: the next one comes
        self.ctx.partial(value)


class _TrainDialog(TrainingJobMixin, QDialog):
    """What both dialogs share: the folder, Train / Stop / Close, progress and the status line."""

    prefix = ""
    family = ""
    what = ""

    def __init__(self, context, parent: QWidget | None = None) -> None:
        from studio.ui.panels.base import ThinProgressBar  # (the menu is made before any panel)

        super().__init__(parent)
        self.context = context
        self.job = None
        self.folder: Path | None = None
        self.result: Any = None
        self.setObjectName(f"{self.prefix}_dialog")
        self.folder_button = named(
            QPushButton("Pictures folder…"),
            f"image.{self.prefix}_folder",
            "The folder to learn from: one subfolder per class or label",
        )
        self.folder_label = QLabel(NO_FOLDER)
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seed = named(QSpinBox(), f"image.{self.prefix}_seed",
                          "The same seed and pictures train the same model")  # fmt: skip
        self.seed.setRange(0, 2**31 - 1)
        self.precision = named(
            QComboBox(),
            f"image.{self.prefix}_precision",
            "The arithmetic: Auto is float16 with a gradient scaler on a CUDA GPU and float32 on "
            "the CPU; bfloat16 is faster on some CPUs",
        )
        cuda = getattr(context, "device", "cpu") == "cuda"
        for value, text in _ARITHMETIC.items():
            self.precision.addItem(text, value)
        if not cuda:  # refused by the trainers on a CPU: not offered
            fp16 = self.precision.findData("fp16")
            self.precision.setItemText(fp16, "float16 (CUDA only)")
            self.precision.model().item(fp16).setEnabled(False)
        self.start_button = named(
            QPushButton("Train"),
            f"image.{self.prefix}_start",
            f"Start training {self.what} (in the background)",
        )
        self.start_button.setDefault(True)
        self.stop_button = named(QPushButton("Stop"), f"image.{self.prefix}_stop",
                                 "Stop training")  # fmt: skip
        self.stop_button.setEnabled(False)
        self.close_button = named(
            QPushButton("Close"),
            f"image.{self.prefix}_close",
            "Close this window (training goes on in the background)",
        )
        self.progress = ThinProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel("Choose a folder of pictures.")
        self.status.setObjectName(f"{self.prefix}_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.addRow(self.folder_button, self.folder_label)
        self.folder_button.clicked.connect(self.choose_folder)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.close)

    def precision_choice(self) -> tuple[str, str]:
        """(the precision chosen, its command-line option, "" for auto)"""
        value = str(self.precision.currentData())
        return value, "" if value == "auto" else f" --precision {value}"

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        return row

    # -- the folder --------------------------------------------------------------------------------
    def choose_folder(self, *_args) -> Path | None:
        """Ask for the folder and list it in the background (the label says what it holds)."""
        path = files.ask_folder(self, "training", "A folder of your pictures")
        if path is not None:
            self.set_folder(path)
        return path

    def set_folder(self, path: str | Path):
        """List ``path`` on a worker (names only, nothing decoded): the label shows what it holds,
        or the status line why it cannot be trained on. Returns the listing job's handle."""
        return self.read_folder(path, type(self).describe_folder)

    @staticmethod
    def describe_folder(path: Path, ctx=None) -> FolderListing:
        """(on a worker) What ``path`` holds, by name: its classes and their pictures."""
        from studio.image import folder as pictures

        try:
            groups = pictures.list_pictures(path, loose_as_one_class=False, ctx=ctx)
            counted = [(name, len(found)) for name, found in groups.items()]
            if counted:
                shown = ", ".join(f"{n} ({c})" for n, c in counted[:8])
                more = f" and {len(counted) - 8} more" if len(counted) > 8 else ""
                text = f"{path}\n{len(counted)} classes: {shown}{more}"
                total = sum(c for _, c in counted)
            else:
                loose = pictures.list_pictures(path, True, ctx=ctx).get("all", [])
                text = f"{path}\n{len(loose)} pictures, no subfolders (one class)"
                total = len(loose)
        except ValueError as exc:  # over-full (unreadable: OSError, said by read_folder)
            return None, NO_FOLDER, f"⚠ {exc}"
        if total > pictures.MAX_PICTURES:
            text += f"\n{total:,} pictures: a random {pictures.MAX_PICTURES:,} of them will be read"
        return path, text, "Ready: press Train."

    # -- the job -----------------------------------------------------------------------------------
    def _submit(self, title: str, work) -> Any:
        if self.busy():
            self.status.setText("Already training: wait, or press Stop.")
            return None
        if self.reading():
            self.status.setText("Still reading the folder: a moment.")
            return None
        if self.folder is None:
            self.status.setText("Choose a folder of pictures first.")
            return None
        handle = self.context.runner.submit(
            JobSpec(title=title, fn=work, family=self.family, key=f"image.{self.prefix}")
        )
        return self.watch(handle)

    def _on_job_succeeded(self, result) -> None:
        if self._mine():
            self.result = result
            self.progress.setValue(1000)
            self.show_result(result)

    def show_result(self, result) -> None:
        """(override)"""


class TrainGeneratorDialog(_TrainDialog):
    """Image ▸ Train a generator…: a class-conditional GAN on the artist's folder."""

    prefix = "train"
    family = "image-train"
    what = "a generator"
    stopped_message = ("Stopped. Train again with the same settings to go on from the last "
                       "checkpoint (saved every minute).")  # fmt: skip
    #: seconds between live sample grids
    sample_every_s = 20.0

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setWindowTitle("Train a generator")
        self.size_combo = named(
            QComboBox(),
            "image.train_size",
            "The pictures' size: 32 px trains fast, 64 px shows more",
        )
        for side in (32, 64):
            self.size_combo.addItem(f"{side} px", side)
        self.arch_combo = named(QComboBox(), "image.train_arch", "The kind of network")
        self.arch_combo.addItem("Modern (for few pictures)", "modern")
        self.arch_combo.addItem("DCGAN (the classic)", "dcgan")
        self.arch_combo.setItemData(0, "Hinge loss, spectral norm, DiffAugment, EMA: for 100 to "
                                    "2,000 pictures", Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        self.arch_combo.setItemData(1, "The DCGAN baseline (Radford et al. 2016)",
                                    Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        self.minutes = named(QDoubleSpinBox(), "image.train_minutes",
                             "How long to train; more minutes, better pictures")  # fmt: skip
        self.minutes.setRange(0.05, 24 * 60)
        self.minutes.setDecimals(2)
        self.minutes.setValue(10)
        self.minutes.setSuffix(" min")
        self.fresh = named(
            QCheckBox("Start over"),
            "image.train_fresh",
            "Ignore the checkpoint of an earlier training with these settings",
        )
        self.samples = PixelView("Sample pictures appear here while it trains (a row per "
                                 "class, the same noise each time).")  # fmt: skip
        self.samples.setObjectName("train_samples")
        self.samples.setWordWrap(True)
        self.samples.setMinimumSize(240, 160)
        self.loss_plot = LossPlot(("D", "G"))
        self.loss_plot.setObjectName("train_losses")
        self.open_button = named(
            QPushButton("Use it on the Generate tab"),
            "image.train_use",
            "Show the trained generator on the Image panel's Generate tab",
        )
        self.open_button.setEnabled(False)
        self.form.addRow("Size", self.size_combo)
        self.form.addRow("Network", self.arch_combo)
        self.form.addRow("Minutes", self.minutes)
        self.form.addRow("Seed", self.seed)
        self.form.addRow("Precision", self.precision)
        self.form.addRow("", self.fresh)
        left = QVBoxLayout()
        left.addLayout(self.form)
        left.addLayout(self._buttons())
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.open_button)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.samples, 3)
        right.addWidget(self.loss_plot, 2)
        outer = QHBoxLayout(self)
        outer.addLayout(left, 2)
        outer.addLayout(right, 3)
        self.open_button.clicked.connect(self.use_result)
        self.resize(900, 560)

    @staticmethod
    def describe_folder(path: Path, ctx=None) -> FolderListing:
        """(on a worker) Its classes, or that it is captioned (it learns to draw from a
        prompt)."""
        from studio.image.gan import find_captions

        folder, text, status = _TrainDialog.describe_folder(path, ctx)
        captions = find_captions(path) if folder is not None else None
        if captions is not None:
            text = f"{folder}\nCaptioned ({captions.name}): it learns to draw from a prompt"
        return folder, text, status

    def output_path(self) -> Path:
        """Where the generator goes: ``<model folder>/image-gan/<folder>-<arch>-<size>``."""
        name = f"{self.folder.resolve().name}-{self.arch_combo.currentData()}-" \
               f"{self.size_combo.currentData()}.safetensors"  # fmt: skip
        return self.context.settings.models_dir() / "image-gan" / name

    def start(self, *_args):
        """Train in the background; the result lands in the model folder with its card."""
        if self.folder is None:
            self.status.setText("Choose a folder of pictures first.")
            return None
        folder, output = self.folder, self.output_path()
        size, arch = int(self.size_combo.currentData()), str(self.arch_combo.currentData())
        minutes, seed, fresh = float(self.minutes.value()), int(self.seed.value()), \
            self.fresh.isChecked()  # fmt: skip
        device, every = self.context.device, self.sample_every_s
        precision, option = self.precision_choice()
        command = (f"studio image train-gan {folder} --size {size} --arch {arch} "
                   f"--minutes {minutes:g} --seed {seed}{option}")  # fmt: skip

        def work(_r, ctx):
            from studio.image.gan import train_gan

            relay = LossRelay(ctx)
            report = train_gan(folder, output, size=size, arch=arch, minutes=minutes, seed=seed,
                               resume=not fresh, sample_every_s=every, device=device,
                               precision=precision, command=command, ctx=relay)  # fmt: skip
            relay.flush()
            from PIL import Image as PILImage

            with PILImage.open(report.samples_png) as img:
                grid = __import__("numpy").asarray(img.convert("RGB"))
            return report, grid

        self.loss_plot.clear()
        self.open_button.setEnabled(False)
        return self._submit(f"Image: train a generator on {folder.name}", work)

    def _on_job_partial(self, value) -> None:
        if not self._mine() or not isinstance(value, dict):
            return
        if "losses" in value:
            self.loss_plot.add(value["losses"])
        if "samples" in value:
            self._show_samples(value["samples"])

    def _show_samples(self, pixels) -> None:
        from studio.ui.panels.video.widgets import to_qimage

        self.samples.set_pixmap(QPixmap.fromImage(to_qimage(pixels)))

    def show_result(self, result) -> None:
        report, grid = result
        self._show_samples(grid)
        resumed = f", resumed at step {report.resumed_from}" if report.resumed_from else ""
        n = report.skipped
        skipped = f"; {n} unreadable picture{'s' * (n != 1)} skipped" if n else ""
        what = f"{len(report.labels)} classes" if report.labels else "captioned pictures"
        note = f" ({report.note})" if getattr(report, "note", "") else ""
        self.status.setText(
            f"Trained {report.steps} steps ({report.steps_per_s:.1f}/s{resumed}) on "
            f"{what}{skipped}{note}. Saved {Path(report.model_file).name} with "
            f"its card in {Path(report.model_file).parent}."
        )
        self.open_button.setEnabled(True)
        panel = getattr(self.parent(), "panels", {}).get("image")
        if panel is not None:
            panel.reload_engines()  # the Generate tab lists it now

    def use_result(self, *_args) -> bool:
        """Choose the trained generator on the Image panel's Generate tab, raised."""
        panel = self.raise_result_panel("image")
        return panel is not None and panel.show_generator(self.result[0].model_file)


class TrainTaggerDialog(_TrainDialog):
    """Image ▸ Train a tagger…: the artist's labels (one subfolder each), two models compared on
    a held-out fifth, the better one saved; its confusion matrix drawn."""

    prefix = "tagger"
    family = "image-train"
    what = "a tagger"
    stopped_message = ("Stopped. Train again with the same settings to go on from the last "
                       "finished epoch (or tick Start over).")  # fmt: skip

    def __init__(self, context, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setWindowTitle("Train a tagger")
        self.size_combo = named(
            QComboBox(),
            "image.tagger_size",
            "The size pictures are read at: larger is slower, can be better",
        )
        for side in (64, 96, 128):
            self.size_combo.addItem(f"{side} px", side)
        self.transfer = named(
            QCheckBox("Transfer (EfficientNet-Lite0)"),
            "image.tagger_transfer",
            "A pretrained network's features with a head trained on yours",
        )
        self.transfer.setChecked(True)
        self.scratch = named(QCheckBox("From scratch (small CNN)"), "image.tagger_scratch",
                             "A small network trained on your pictures only")  # fmt: skip
        self.scratch.setChecked(True)
        self.epochs = named(
            QSpinBox(),
            "image.tagger_epochs",
            "The from-scratch network's most epochs (it stops early)",
        )
        self.epochs.setRange(1, 500)
        self.epochs.setValue(40)
        self.fine_tune = named(
            QSpinBox(),
            "image.tagger_fine_tune",
            "Then fine-tune all of the transfer network for up to this many epochs, on pictures "
            "mirrored, zoomed, turned and shifted anew each time; the best validation epoch is "
            "kept (0: the head alone, fastest)",
        )
        self.fine_tune.setRange(0, 200)
        self.fine_tune.setSpecialValueText("0 (head only)")
        self.transfer.toggled.connect(self.fine_tune.setEnabled)
        self.fresh = named(
            QCheckBox("Start over"),
            "image.tagger_fresh",
            "Ignore what a stopped training with these settings had done (its checkpoint)",
        )
        self.report = named(QPlainTextEdit(), "image.tagger_report",
                            "Held-out scores of both models (select to copy)")  # fmt: skip
        self.report.setReadOnly(True)
        self.report.setMaximumHeight(140)
        self.confusion = ConfusionPlot()
        self.confusion.setObjectName("tagger_confusion")
        models = QHBoxLayout()
        models.addWidget(self.transfer)
        models.addWidget(self.scratch)
        self.form.addRow("Size", self.size_combo)
        self.form.addRow("Models", models)
        self.form.addRow("CNN epochs", self.epochs)
        self.form.addRow("Fine-tune", self.fine_tune)
        self.form.addRow("Seed", self.seed)
        self.form.addRow("Precision", self.precision)
        self.form.addRow("", self.fresh)
        left = QVBoxLayout()
        left.addLayout(self.form)
        left.addLayout(self._buttons())
        left.addWidget(self.progress)
        left.addWidget(self.status)
        left.addWidget(self.report)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.confusion)
        outer = QHBoxLayout(self)
        outer.addLayout(left, 1)
        outer.addLayout(right, 1)
        self.resize(900, 520)

    def output_path(self) -> Path:
        return self.context.settings.models_dir() / "tagger" / f"{self.folder.resolve().name}" \
            ".safetensors"  # fmt: skip

    def start(self, *_args):
        if self.folder is None:
            self.status.setText("Choose a folder of pictures first.")
            return None
        models = tuple(m for m, box in (("transfer", self.transfer), ("scratch", self.scratch))
                       if box.isChecked())  # fmt: skip
        if not models:
            self.status.setText("Tick at least one model.")
            return None
        folder, output = self.folder, self.output_path()
        size, epochs, seed = int(self.size_combo.currentData()), self.epochs.value(), \
            self.seed.value()  # fmt: skip
        fresh, device = self.fresh.isChecked(), self.context.device  # the GPU when there is one
        fine_tune = self.fine_tune.value() if "transfer" in models else 0
        precision, option = self.precision_choice()
        command = (f"studio image train-tagger {folder} --size {size} --epochs {epochs} "
                   f"--seed {seed} --models {','.join(models)}"
                   + (f" --fine-tune {fine_tune}" if fine_tune else "") + option)  # fmt: skip

        def work(_r, ctx):
            from studio.image.tagger import train_tagger

            return train_tagger(folder, output, size=size, epochs=epochs, seed=seed,
                                models=models, fine_tune=fine_tune, command=command,
                                resume=not fresh, device=device, precision=precision,
                                ctx=ctx)  # fmt: skip

        self.report.setPlainText("")
        self.confusion.set_matrix([], [])
        return self._submit(f"Image: train a tagger on {folder.name}", work)

    def show_result(self, report) -> None:
        chosen = report.models[report.chosen]
        self.confusion.set_matrix(
            report.labels, chosen["confusion"],
            f"{report.n_test} held-out pictures: true label (rows), the tagger's (columns)",
        )  # fmt: skip
        lines = [f"{m['title']}: held-out accuracy {m['accuracy']:.3f}, macro precision "
                 f"{m['macro_precision']:.3f}, recall {m['macro_recall']:.3f}"
                 for m in report.models.values()]  # fmt: skip
        why = ", the better on validation" if len(report.models) > 1 else ""
        lines.append(f"Saved: {report.model_file} ({chosen['title']}{why}; trained in "
                     f"{_ARITHMETIC.get(report.precision, report.precision)})")  # fmt: skip
        if report.skipped:
            n = len(report.skipped)
            lines.append(f"{n} unreadable picture{'s' * (n != 1)} skipped:")
            lines += [f"  {why}" for _file, why in report.skipped[:5]]
            if n > 5:
                lines.append(f"  ... and {n - 5} more")
        if report.note:
            lines.append(f"Note: {report.note}")
        self.report.setPlainText("\n".join(lines))
        resumed = (f" Went on from where a stopped training had got to ({report.resumed})."
                   if report.resumed else "")  # fmt: skip
        self.status.setText(
            f"Trained on {report.n_train} pictures, {len(report.labels)} labels; the Library tags "
            f"pictures with it (its Tag pictures button).{resumed}"
        )
