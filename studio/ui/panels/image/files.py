"""The Image panel's files: import a picture as a layer (Ctrl+I) and export the picture you see
(Ctrl+E) in the background, as PNG, TIFF, WebP or JPEG with its provenance."""

from __future__ import annotations

from pathlib import Path

from studio.core.jobs import JobSpec
from studio.ui.dialogs import files

__all__ = ["FilesMixin", "OPEN_FILTER", "SAVE_FILTER"]

OPEN_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
SAVE_FILTER = (
    "PNG, 16-bit and alpha kept (*.png);;TIFF, 16-bit and alpha kept (*.tif *.tiff);;"
    "WebP (*.webp);;JPEG (*.jpg *.jpeg)"
)


class FilesMixin:
    """Mixed into ImagePanel (which provides the document, ``status`` and ``remember_saved``)."""

    def import_dialog(self) -> bool:
        path = files.ask_open(self, "picture", "Import a picture", OPEN_FILTER)
        return self.open_file(path) if path is not None else False

    def open_file(self, path: Path) -> bool:
        """Add the picture at ``path`` as a new layer (the first one sets the canvas); one undo
        step. A message instead on a bad file. (Also ``studio shot image --open``.)"""
        from studio.image.io import ImageError, load_picture

        try:
            picture = load_picture(path)
        except ImageError as exc:
            self.status.setText(str(exc))
            return False
        doc = self.document
        first = not doc.is_open
        doc.add_layer(picture.pixels, Path(path).stem, picture.provenance,
                      f"Import {Path(path).name}")  # fmt: skip
        if first:
            doc.set_quiet(source=str(path))
        w, h = picture.size
        self.status.setText(
            f"{Path(path).name}: {w}x{h}, {picture.depth}-bit"
            + (", alpha" if picture.has_alpha else "")
            + (", with saved parameters (History ▸ Reuse from a file)" if picture.provenance
               else "")
            + ("" if first else ", as a new layer (Edit ▸ Undo removes it)")
            + "".join(f". ⚠ {warning}" for warning in picture.warnings[:2])
        )  # fmt: skip
        return True

    def current_file(self) -> Path | None:
        doc = self.document
        return Path(doc.source) if doc is not None and doc.source else None

    def export_dialog(self):
        """Ask where, then export the picture in the background (returns the job)."""
        doc = self.document
        if not doc.is_open:
            self.status.setText("Nothing to export yet: import or generate a picture.")
            return None
        stem = Path(doc.source).stem if doc.source else "picture"
        path = files.ask_save(self, "picture", "Export the picture", f"{stem}.png", SAVE_FILTER,
                              ".png")  # fmt: skip
        return self.export_to(path) if path is not None else None

    def export_to(self, path: str | Path):
        from studio.image.io import SAVE_SUFFIXES, save_picture

        path = Path(path)
        if path.suffix.lower() not in SAVE_SUFFIXES:
            self.status.setText(f"Can't export {path.name}: use {', '.join(SAVE_SUFFIXES)}.")
            return None
        doc = self.document
        layers, info = doc.layers, doc.provenance()  # by reference: never changed in place

        def work(out, _ctx):
            from studio.image.document import composite
            from studio.image.io import Picture

            return save_picture(Picture(composite(layers), info), out)

        job = self.context.runner.submit(
            JobSpec(title=f"Image: export {path.name}", request=path, fn=work, key="image.export")
        )
        job.succeeded.connect(self._on_export_job_succeeded)
        job.failed.connect(self._on_export_job_failed)
        self.export_job = job
        self.status.setText(f"Exporting {path.name}…")
        return job

    def _on_export_job_succeeded(self, saved: Path) -> None:
        self.status.setText(f"Exported {saved.name} with its parameters.")
        self.remember_saved(saved, self.document.provenance())

    def _on_export_job_failed(self, message: str, _tb: str) -> None:
        self.status.setText(f"⚠ {message}")
