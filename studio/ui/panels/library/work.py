"""What the Library panel does with the catalog: add and scan folders, import a listening
history, like, dislike and play an item. Scans run in the background; the catalog is global,
the document only remembers which items this project used."""

from __future__ import annotations

from pathlib import Path

from studio.core.jobs import JobSpec
from studio.ui.dialogs import files

__all__ = ["WorkMixin"]


class WorkMixin:
    """Mixed into LibraryPanel."""

    def _busy(self) -> bool:
        return self.job is not None and not self.job.done

    def use(self, item) -> None:
        """Record that this project used ``item`` (its document and the project's list)."""
        self.document.use(item.path)
        use_item = getattr(self.context.project, "use_item", None)
        if use_item is not None:
            use_item(item.path)

    # -- adding ------------------------------------------------------------------------------------
    def add_folder_dialog(self, *_args) -> None:
        folder = files.ask_folder(self, "library", "Add a folder to the library")
        if folder is not None:
            self.add_folder(folder)

    def add_folder(self, folder: str | Path):
        from studio.library.catalog import CatalogError

        try:
            path = self.catalog.add_folder(folder)
        except CatalogError as exc:
            self.status.setText(str(exc))
            return None
        return self.scan([path])

    def _on_rescan_clicked(self, _checked: bool = False) -> None:
        self.scan(None)

    def scan(self, folders: list[str] | None):
        """Scan (the given folders or all), then compute features, in the background."""
        if self._busy():
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        catalog_path = self.catalog.path
        registry = self.context.registry
        from studio.library.tags import find_tagger

        tagger = find_tagger(self.context.settings.models_dir())

        def work(_r, ctx):
            from studio.library.catalog import Catalog
            from studio.library.service import Library

            catalog = Catalog(catalog_path)  # this thread's own connection
            report = catalog.scan(folders, ctx)
            ctx.progress(0.5, "features (embeddings, sound, colour)…")
            Library(catalog, registry).compute_features(ctx)
            if tagger is not None:  # new pictures and videos, or all after a new tagger
                from studio.library.tags import retag

                ctx.progress(0.9, f"tagging with {tagger.name}…")
                try:
                    retag(catalog, tagger, ctx, only_new=True)
                except ValueError as exc:  # a broken tagger file: the scan still counts
                    import logging

                    logging.getLogger(__name__).warning("tagger %s: %s", tagger.name, exc)
            return report

        return self.start_job(JobSpec(title="Library: scan", fn=work, family="library",
                                      key="library.scan"))  # fmt: skip

    def tag_pictures(self, *_args):
        """Tag every picture and video (a frame) again with the newest tagger, in the
        background; the tag filter lists the tags when it is done."""
        from studio.library.tags import find_tagger

        if self._busy():
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        tagger = find_tagger(self.context.settings.models_dir())
        if tagger is None:
            self.status.setText("No tagger yet: train one with Image ▸ Train a tagger… (one "
                                "subfolder of pictures per label).")  # fmt: skip
            return None
        catalog_path = self.catalog.path

        def work(_r, ctx):
            from studio.library.catalog import Catalog
            from studio.library.tags import retag

            counts = retag(Catalog(catalog_path), tagger, ctx)
            unread = f", {counts['unreadable']} unreadable" if counts["unreadable"] else ""
            return {"tagged": f"{counts['tagged']} with {tagger.name}{unread}"}

        return self.start_job(JobSpec(title="Library: tag pictures", fn=work, family="library",
                                      key="library.scan"))  # fmt: skip

    def import_dialog(self, *_args) -> None:
        path = files.ask_open(self, "history", "A listening history or ratings file",
                              "Histories (*.json *.jsonl *.csv);;All files (*)")  # fmt: skip
        if path is not None:
            self.import_history(path)

    def import_history(self, path: str | Path):
        if self._busy():
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        catalog_path = self.catalog.path

        def work(_r, ctx):
            from studio.library.catalog import Catalog
            from studio.library.history import import_history

            return import_history(Catalog(catalog_path), path, ctx)

        return self.start_job(JobSpec(title="Library: import history", fn=work,
                                      family="library", key="library.scan"))  # fmt: skip

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        summary = result.summary() if hasattr(result, "summary") else ", ".join(
            f"{k}: {v}" for k, v in result.items())  # fmt: skip
        self.status.setText(summary)
        self._library = None
        self.fill_tags()
        self.reload()
        self.recommend()

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(message)

    def cancel(self, *_args) -> None:
        if self._busy():
            self.job.cancel()

    # -- feedback ----------------------------------------------------------------------------------
    def _on_like_triggered(self, *_args) -> None:
        self.feedback("like")

    def _on_dislike_triggered(self, *_args) -> None:
        self.feedback("dislike")

    def feedback(self, what: str) -> None:
        """``like`` or ``dislike`` the selected item (a catalog event: it changes the
        suggestions, not the document)."""
        item = self.selected()
        if item is None:
            return
        self.catalog.add_event(item.id, what)
        self.use(item)
        self._library = None
        self.status.setText(f"{item.label}: {what}d.")
        self.recommend()

    def play(self, *_args) -> None:
        """Audio plays here; a MIDI file goes to the Music panel, a picture to the Image panel."""
        item = self.selected()
        if item is None:
            return
        self.catalog.add_event(item.id, "play")
        self.use(item)
        self._library = None
        if item.kind == "audio":
            self._play_audio(item.path)
        elif item.kind == "midi":
            from studio.core.media import MidiClip

            try:
                self.context.shared["music.clip"] = MidiClip.load(item.path)
                self.status.setText(f"{item.label} is ready in the Music panel.")
            except (OSError, ValueError, EOFError) as exc:
                self.status.setText(f"Cannot read {item.label}: {exc}")
        elif item.kind == "image":
            from studio.image.io import ImageError, load_picture

            try:
                self.context.shared["image.current"] = load_picture(item.path).to_image()
                self.status.setText(f"{item.label} is the Image panel's picture.")
            except ImageError as exc:
                self.status.setText(str(exc))
        else:
            self.status.setText(f"Open {item.label} in the Video panel (File source).")

    def _play_audio(self, path: str):
        def work(_r, ctx):
            import warnings

            import librosa

            from studio.voice.player import StreamPlayer

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples, rate = librosa.load(path, sr=None, mono=True, duration=300)
            player = StreamPlayer()
            ctx.on_cancel(player.cancel)
            player.start(int(rate))  # raises a readable error with no sound card
            try:
                player.feed(samples)
                player.finish()
                while player.playing:
                    ctx.sleep(0.1)
            finally:
                player.stop()

        handle = self.context.runner.submit(
            JobSpec(title=f"Library: play {Path(path).name}", fn=work, key="library.play")
        )
        handle.failed.connect(self._on_play_failed)
        self.status.setText(f"Playing {Path(path).name}…")
        return handle

    def _on_play_failed(self, message: str, _tb: str) -> None:
        self.status.setText(message)
