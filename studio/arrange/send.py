""" "Send to Arrange": put what another panel holds (the Music clip, a Voice take, the Image
picture, the Video panel's export, a Library file) on a new lane of the arrangement at the
playhead. Qt-free: the panels' buttons and the window action call :func:`send_to_arrange`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.arrange.document import ArrangeClip, ArrangeDocument, Source, new_id, source_from_file
from studio.core.document import DocumentError
from studio.music.document import Clip as MusicClip

__all__ = ["send_to_arrange", "SEND_KINDS"]

SEND_KINDS = ("music", "voice", "image", "video", "library", "file")


def send_to_arrange(project: Any, kind: str, item: Any = None,
                    at: float | None = None) -> list[ArrangeClip]:  # fmt: skip
    """Put ``item`` from panel ``kind`` on new lanes of ``project``'s arrangement at beat ``at``
    (default: the playhead), as one undo step per lane. ``item`` may be omitted to send what the
    panel's document holds now:

    - ``music``: the clip (a Music ``Clip`` or ``MidiClip``), one lane per track; an empty
      arrangement takes its tempo and meter;
    - ``voice``: a ``Take`` (default: the selected one); a sung take remembers its tempo so it
      stays on the melody when the tempo changes;
    - ``image``: a picture (an H x W x 3 array, an ``Image``; default: the Image document's
      flattened picture) onto the video lane;
    - ``video``, ``library``, ``file``: a file path (the Video panel's last export by default).

    Returns the clips made. Raises DocumentError when there is nothing to send.
    """
    doc: ArrangeDocument = project.document("arrange")
    at = doc.playhead if at is None else at
    if kind == "music":
        return _send_music(doc, item if item is not None else project.document("music").clip, at)
    if kind == "voice":
        voice = project.document("voice")
        take = item if item is not None else voice.take()
        if take is None:
            raise DocumentError("the Voice panel has no take to send")
        sung_bpm = None
        if take.kind == "song" and voice.melody is not None:
            sung_bpm = float(voice.melody.bpm)
        name = f"Take {take.id} ({'sung' if take.kind == 'song' else 'spoken'})"
        source = Source(new_id(), "audio", name, samples=take.samples,
                        sample_rate=take.sample_rate, seconds=take.duration, sung_bpm=sung_bpm,
                        provenance=tuple(sorted((str(k), str(v))
                                                for k, v in take.provenance.items())))  # fmt: skip
        if sung_bpm and not doc.clips and abs(doc.bpm - sung_bpm) > 1e-6:
            doc.set_tempo(sung_bpm)
        return [doc.add_source(source, at, label=f"Send {source.name} to Arrange")]
    if kind == "image":
        pixels = item
        if pixels is None:
            pixels = _image_pixels(project.document("image"))
        pixels = np.asarray(getattr(pixels, "pixels", pixels))
        if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            raise DocumentError("the picture to send is not an RGB image")
        if pixels.dtype == np.uint16:
            pixels = (pixels >> 8).astype(np.uint8)
        elif pixels.dtype != np.uint8:
            pixels = (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
        source = Source(new_id(), "image", "Picture", pixels=pixels[:, :, :3])
        return [doc.add_source(source, at, label="Send picture to Arrange")]
    if kind in ("video", "library", "file"):
        path = item
        if path is None and kind == "video":
            path = project.document("video").last_export or None
        if not path:
            raise DocumentError(f"there is no {kind} file to send: export or choose one first")
        source = source_from_file(Path(path))
        return [doc.add_source(source, at, label=f"Send {source.name} to Arrange")]
    raise ValueError(f"send_to_arrange: kind is one of {', '.join(SEND_KINDS)}, not {kind!r}")


def _send_music(doc: ArrangeDocument, clip, at: float) -> list[ArrangeClip]:
    clip = clip if isinstance(clip, MusicClip) else MusicClip.from_midi(clip)
    if not clip.notes:
        raise DocumentError("the Music panel has no notes to send")
    made = []
    with doc.macro("Send music to Arrange"):
        if not doc.clips:
            doc.follow_music(clip)
        bars = max(1, -int(-round(clip.length_beats / clip.bar_length, 6) // 1))
        length = bars * clip.bar_length  # whole bars, so clips line up on the grid
        for channel in clip.channels:
            part = MusicClip(notes=tuple(n for n in clip.notes if n.channel == channel),
                             bpm=clip.bpm, beats_per_bar=clip.beats_per_bar,
                             beat_unit=clip.beat_unit, programs=clip.programs, length=length,
                             tempo_changes=clip.tempo_changes, meter_changes=clip.meter_changes,
                             provenance=clip.provenance)  # fmt: skip
            name = f"Track {channel + 1}" if channel != 9 else "Drums"
            source = Source(new_id(), "midi", name, midi=part)
            made.append(doc.add_source(source, at, length=length))
    return made


def _image_pixels(image_doc) -> np.ndarray:
    pixels = image_doc.composite()
    if pixels is None:
        raise DocumentError("the Image panel has no picture to send")
    return np.asarray(pixels)
