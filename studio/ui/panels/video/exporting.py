"""The Video panel's export (the document's source and settings through the same pipeline as
the preview, on a worker; the file is written atomically by ``studio.video.export``) and the
hand-over of a frame and its matte to the Image panel."""

from __future__ import annotations

import time
from pathlib import Path

from studio.core.jobs import JobSpec
from studio.ui.dialogs import files
from studio.ui.panels.video.controls import EXPORT_FILTER

__all__ = ["ExportMixin"]


class ExportMixin:
    """Mixed into VideoPanel."""

    def _exporting(self) -> bool:
        return self.job is not None and not self.job.done

    def export(self, *_args) -> None:
        """Ask where (the dialog remembers the folder) and export there."""
        doc = self.document
        if doc.source == "camera" or self._exporting():
            return
        alpha = doc.effect == "alpha"
        stem = Path(doc.source_path).stem if doc.source_path else "demo"
        suffix = ".mov" if alpha else ".mp4"
        path = files.ask_save(self, "video-export", "Export the video", f"{stem}-{doc.effect}"
                              f"{suffix}", EXPORT_FILTER, suffix)  # fmt: skip
        if path is None:
            return
        fmt = "auto"
        if path.suffix.lower() == ".png":  # "a PNG sequence": a folder of numbered PNGs
            path, fmt = path.with_suffix(""), "png"
        self.export_to(path, fmt)

    def export_to(self, path: str | Path, fmt: str = "auto"):
        """Export the document's source with its settings to ``path``; returns the job."""
        from studio.video.effects import EffectError
        from studio.video.export import export_video

        doc = self.document
        if doc.source in ("file", "sequence") and not doc.source_path:
            self.status.setText("Choose a source to export first.")
            return None
        try:
            settings, effect = self.pipeline_inputs()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return None
        if self.session is not None:  # the CPU goes to the export; the preview waits
            self.session.pause()
            self.play_button.setText("Play")
        source, options = doc.source_spec(), self.source_options()
        max_frames = int(doc.export_frames) or None
        keep_audio = bool(doc.keep_audio)
        registry = self.context.registry
        path = Path(path)

        interval = self.EXPORT_PREVIEW_INTERVAL_S

        def work(_request, ctx):
            from studio.video.pipeline import VideoPipeline
            from studio.video.sources import open_source

            shown = [0.0]

            def preview(processed) -> None:
                # At most twice a second, its matte made here (a torch op that took 10-16 ms of
                # the window's thread per preview, five times a second, when it was made there).
                now = time.monotonic()
                if now - shown[0] >= interval:
                    shown[0] = now
                    processed.matte  # noqa: B018 - made and kept on the Processed
                    ctx.partial(processed)

            # one decoding thread, as the CLI's export: decoding runs beside the other steps
            src = open_source(source, **{"decode_threads": 1, **options})
            pipeline = VideoPipeline(settings, registry=registry, effect=effect)
            return export_video(src, path, settings, ctx.child(ctx.progress, preview), fmt=fmt,
                                pipeline=pipeline, keep_audio=keep_audio,
                                max_frames=max_frames)  # fmt: skip

        handle = self.start_job(
            JobSpec(title=f"Video: export {path.name}", fn=work,
                    family="video-export", key="video.export")
        )  # fmt: skip
        self.update_controls()
        return handle

    # While exporting, the picture follows at most twice a second and only while the panel is
    # seen: the export's frames matter, and on two cores every millisecond the window spends
    # drawing is one the export's threads wait for.
    EXPORT_PREVIEW_INTERVAL_S = 0.5

    def _on_job_partial(self, processed) -> None:
        # (not hasattr(processed, "matte"): that made the matte, on this thread)
        if not self._is_current() or not hasattr(processed, "matte_tensor"):
            return
        self.last = processed  # what "Matte to Image panel" sends
        if self._seen():
            self.show_processed(processed)

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        self.document.set_quiet(last_export=str(result.path))
        if result.path.is_file():
            self.remember_saved(result.path, {"engine": "studio/video", "encoder": result.encoder})
        sound = ", sound kept" if result.audio_kept else ""
        text = (
            f"Exported {result.frames} frames to {result.path.name} in {result.seconds:.1f} s "
            f"({result.fps:.1f} FPS, {result.encoder}{sound})."
        )
        for warning in result.warnings:
            text += f"\n⚠ {warning}"
        self.status.setText(text)
        self.update_controls()

    def _on_job_failed(self, message: str, _traceback: str) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.status.setText(f"Export failed: {message}")
        self.update_controls()

    def _on_job_cancelled(self) -> None:
        super()._on_job_cancelled()
        self.update_controls()

    def cancel(self, *_args) -> None:
        if self._exporting():
            self.job.cancel()

    # -- handing over to other panels --------------------------------------------------------------
    def send_matte(self, *_args) -> None:
        """Publish the shown frame and its matte for the Image panel (``video.frame``,
        ``video.matte``)."""
        from studio.core.media import Image, Mask

        if self.last is None:
            self.status.setText("No frame to send yet.")
            return
        doc = self.document
        provenance = {"engine": doc.engine_spec(), "source": doc.source_name(),
                      "frame": self.last.frame.index}  # fmt: skip
        self.context.shared["video.frame"] = Image(self.last.frame.pixels.copy(), provenance)
        self.context.shared["video.matte"] = Mask(self.last.matte.copy(), dict(provenance))
        self.status.setText(
            f"Frame {self.last.frame.index + 1} and its matte are ready in the Image panel."
        )
