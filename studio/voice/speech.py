"""Speaking text: front end, engine, streaming and export, as one job.

:func:`speak` parses the text (plain or SSML), synthesizes clause by clause and hands every clause
to ``sink`` (a :class:`~studio.voice.player.StreamPlayer`'s ``feed``, a file writer...) as soon as
it is ready, so playback starts after the first clause while the rest is made. It keeps the audio
only up to ``keep_seconds`` (memory stays flat for a book), plus a small peak envelope and the
sentence marks for the waveform view.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import AudioClip
from studio.plugins.api import Param
from studio.voice.text import Segment, parse, readable
from studio.voice.voices import (
    DEFAULT_VOICE,
    Speaker,
    VoiceInfo,
    VoiceUnavailable,
    find_language_voice,
    find_voice,
    load_speaker,
    same_language,
)

__all__ = [
    "SPEECH_PARAMS",
    "check_ranges",
    "SpeechSettings",
    "SentenceMark",
    "SpeechChunk",
    "SpeechResult",
    "SpeakerCache",
    "resample",
    "speak",
    "AudioWriter",
    "EXPORT_FORMATS",
    "read_metadata",
]

EXPORT_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
ENVELOPE_HOP = 0.01  # seconds per peak in the waveform envelope


# The speech controls as data: their ranges check SpeechSettings, and the Voice panel and the
# voice generators build their controls from them.
SPEECH_PARAMS = (
    Param("rate", "float", 1.0, help="speed", minimum=0.25, maximum=4.0, step=0.05),
    Param("pitch", "float", 0.0, help="semitones", minimum=-12.0, maximum=12.0, step=0.5),
    Param("volume", "float", 1.0, minimum=0.0, maximum=2.0, step=0.05),
    Param(
        "sentence_pause", "float", 0.3, help="seconds after each sentence", minimum=0.0,
        maximum=5.0, step=0.05,
    ),
    Param(
        "variation", "float", 1.0, help="0 even, 1 the voice's default, 2 lively",
        minimum=0.0, maximum=2.0, step=0.1,
    ),
)  # fmt: skip


def check_ranges(settings: Any, params: tuple[Param, ...]) -> None:
    """Raise ValueError naming the first of ``params`` whose value in ``settings`` is out of
    range."""
    for param in params:
        value = getattr(settings, param.name)
        if not param.minimum <= value <= param.maximum:  # type: ignore[operator]
            raise ValueError(f"{param.name} {value} is outside {param.minimum}..{param.maximum}")


@dataclass
class SpeechSettings:
    """What the Voice panel's controls and ``studio voice say`` set."""

    voice: str = DEFAULT_VOICE
    rate: float = 1.0  # speed multiplier, 0.5..2
    pitch: float = 0.0  # semitones, -12..12
    volume: float = 1.0  # gain, 0..2
    sentence_pause: float = 0.3  # seconds after each sentence
    variation: float = 1.0  # Piper noise/length variation: 0 even, 1 default, 2 lively
    ssml: bool | None = None  # None: text starting with <speak is SSML

    def check(self) -> SpeechSettings:
        """Raise ValueError naming a setting that is out of range."""
        check_ranges(self, SPEECH_PARAMS)
        return self


@dataclass(frozen=True)
class SentenceMark:
    time: float  # seconds into the audio
    offset: int  # character offset in the input text
    text: str


@dataclass
class SpeechChunk:
    """One clause of audio, as handed to the sink and to ``ctx.partial``."""

    samples: np.ndarray
    sample_rate: int
    start: float  # seconds into the whole
    segment: Segment
    mark: SentenceMark | None = None  # set on the first chunk of each sentence


@dataclass
class SpeechResult:
    duration: float
    sample_rate: int
    marks: list[SentenceMark]
    envelope: np.ndarray  # peak per ENVELOPE_HOP seconds
    warnings: list[str]
    settings: dict[str, Any]
    text: str
    audio: AudioClip | None = None  # None when longer than keep_seconds
    first_audio_after: float | None = None  # seconds from start to the first clause
    voices_used: list[str] = field(default_factory=list)


class SpeakerCache:
    """Keeps loaded voices warm between jobs (a Piper voice takes about half a second)."""

    def __init__(self, store=None, device: str = "cpu") -> None:
        self.store = store
        self.device = device
        self._speakers: dict[str, Speaker] = {}
        self._voices: list[VoiceInfo] | None = None
        self._lock = threading.Lock()
        self.problems: list[str] = []

    def voices(self, refresh: bool = False) -> list[VoiceInfo]:
        from studio.voice.voices import list_voices

        with self._lock:
            if self._voices is None or refresh:
                self._voices, self.problems = list_voices(self.store)
            return list(self._voices)

    def get(self, voice: str | None) -> Speaker:
        info = find_voice(self.voices(), voice or DEFAULT_VOICE)
        with self._lock:
            speaker = self._speakers.get(info.id)
        if speaker is None:
            speaker = load_speaker(info, self.device, self.store)
            with self._lock:
                self._speakers[info.id] = speaker
        return speaker

    def release(self) -> None:
        with self._lock:
            self._speakers.clear()


def resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    """``audio`` (frames, or frames x channels) from ``src`` Hz to ``dst`` Hz (soxr)."""
    if src == dst or len(audio) == 0:
        return audio
    import soxr

    return soxr.resample(audio, src, dst).astype(np.float32)


def speak(
    text: str,
    settings: SpeechSettings,
    ctx: JobContext,
    *,
    cache: SpeakerCache | None = None,
    sink: Callable[[SpeechChunk], None] | None = None,
    keep_seconds: float = 600.0,
    started: float | None = None,
) -> SpeechResult:
    """Speak ``text`` with ``settings``; see the module docstring.

    Raises ValueError (settings), SSMLError (with line and column), VoiceUnavailable (missing or
    corrupt voice) and Cancelled. Empty text gives an empty result with a warning.
    """
    import time

    settings.check()
    began = started if started is not None else time.monotonic()
    cache = cache or SpeakerCache()
    main = cache.get(settings.voice)
    rate = main.sample_rate
    segments = parse(
        text,
        ssml=settings.ssml,
        language=main.info.language,
        voice=None,
        sentence_pause=settings.sentence_pause,
    )
    warnings: list[str] = []
    if not segments:
        warnings.append("nothing to say: the text is empty")
    total_chars = sum(len(s.text) for s in segments) or 1
    kept: list[np.ndarray] = []
    kept_frames = 0
    keep_frames = int(keep_seconds * rate)
    envelope: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    hop = max(1, int(ENVELOPE_HOP * rate))
    marks: list[SentenceMark] = []
    frames = 0
    done_chars = 0
    first_audio: float | None = None
    used: list[str] = []
    new_sentence = True

    def stop() -> bool:
        return ctx.cancelled

    ctx.on_cancel(main.interrupt)
    by_language: dict[str, Speaker] = {}

    def language_speaker(language: str) -> Speaker:
        """A voice for xml:lang ``language``: the main one when it speaks it, else the best
        installed voice of that language, else the main one with a warning (once)."""
        if same_language(language, main.info.language):
            return main
        if language not in by_language:
            found = find_language_voice(cache.voices(), language, main.info.engine)
            chosen = main
            if found is None:
                warnings.append(
                    f"no installed voice speaks {language} (xml:lang); {main.info.name} reads it"
                )
            else:
                try:
                    chosen = cache.get(found.id)
                except VoiceUnavailable as exc:
                    warnings.append(f"{exc}; {main.info.name} reads the {language} text")
            by_language[language] = chosen
        return by_language[language]

    for index, segment in enumerate(segments):
        ctx.check_cancelled()
        speaker = main
        if segment.voice:
            try:
                speaker = cache.get(segment.voice)
            except VoiceUnavailable as exc:
                if str(exc) not in warnings:
                    warnings.append(f"{exc}; using {main.info.name}")
        elif segment.language:
            speaker = language_speaker(segment.language)
        if speaker.info.id not in used:
            used.append(speaker.info.id)
        spoken, problems = readable(segment.text, speaker.info.language)
        for problem in problems:
            warnings.append(f"sentence {len(marks) + 1}: {problem}")
        audio = np.zeros(0, dtype=np.float32)
        if spoken.strip():
            audio = speaker.synthesize(
                spoken,
                rate=settings.rate * segment.rate,
                pitch=settings.pitch + segment.pitch,
                volume=settings.volume * segment.volume,
                variation=settings.variation,
                stop=stop,
            )
            ctx.check_cancelled()
            audio = resample(audio, speaker.sample_rate, rate)
        pause = np.zeros(int(segment.pause_after * rate), dtype=np.float32)
        audio = np.concatenate([audio, pause]) if len(pause) else audio
        mark = None
        if new_sentence and segment.text:
            mark = SentenceMark(frames / rate, segment.start, segment.text)
            marks.append(mark)
        new_sentence = segment.sentence
        if len(audio):
            chunk = SpeechChunk(audio, rate, frames / rate, segment, mark)
            if first_audio is None:
                first_audio = time.monotonic() - began
            if sink is not None:
                sink(chunk)
            ctx.partial(chunk)
            if kept_frames + len(audio) <= keep_frames:
                kept.append(audio)
                kept_frames += len(audio)
            else:
                kept_frames = keep_frames + 1  # too long to keep: stop keeping (memory flat)
                kept.clear()
            block = np.concatenate([carry, np.abs(audio)])
            whole = len(block) // hop * hop
            if whole:
                envelope.append(block[:whole].reshape(-1, hop).max(axis=1))
            carry = block[whole:]
            frames += len(audio)
        done_chars += len(segment.text)
        ctx.progress(
            done_chars / total_chars,
            f"sentence {len(marks)} · {frames / rate:.1f} s of audio ({index + 1}/{len(segments)})",
        )
    if len(carry):
        envelope.append(np.array([carry.max()], dtype=np.float32))
    audio_clip = None
    provenance = {"engine": "voice", "text": text[:2000], **asdict(settings)}
    if kept_frames <= keep_frames:
        samples = np.concatenate(kept) if kept else np.zeros(0, dtype=np.float32)
        audio_clip = AudioClip(samples, rate, provenance=provenance)
    return SpeechResult(
        duration=frames / rate,
        sample_rate=rate,
        marks=marks,
        envelope=np.concatenate(envelope) if envelope else np.zeros(0, dtype=np.float32),
        warnings=warnings,
        settings=asdict(settings),
        text=text,
        audio=audio_clip,
        first_audio_after=first_audio,
        voices_used=used,
    )


class AudioWriter:
    """Writes WAV, FLAC or OGG Vorbis by suffix, piece by piece, with the text and settings in
    the file's metadata (title, comment as JSON, software). Use as a context manager.

    The audio goes to a hidden temporary beside ``path`` (:func:`studio.core.atomic.atomic_path`)
    that replaces ``path`` only when the block ends without an error: an error, a cancel or a
    kill never truncates or deletes a file that was there, and leaves no half-written file.

    Raises ValueError for another suffix, OSError when the file cannot be written.
    """

    # WAV INFO chunks hold short strings only (libsndfile drops long ones); Vorbis comments
    # (FLAC, OGG) hold the whole text up to this many characters.
    WAV_TEXT = 1000
    VORBIS_TEXT = 100_000

    def __init__(
        self,
        path: str | Path,
        sample_rate: int,
        channels: int = 1,
        *,
        text: str = "",
        settings: dict[str, Any] | None = None,
        title: str = "",
    ) -> None:
        import soundfile

        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in EXPORT_FORMATS:
            raise ValueError(
                f"{self.path.name}: export to {', '.join(EXPORT_FORMATS)} (got {suffix or 'none'})"
            )
        fmt, subtype = EXPORT_FORMATS[suffix]
        limit = self.WAV_TEXT if suffix == ".wav" else self.VORBIS_TEXT
        body = text if len(text) <= limit else text[:limit] + "…"
        meta = {"text": body, "settings": settings or {}, "made_with": "Studio voice"}
        import contextlib

        from studio.core.atomic import atomic_path

        self._atomic = contextlib.ExitStack()
        self.temp = self._atomic.enter_context(atomic_path(self.path))
        try:
            self._file = soundfile.SoundFile(
                str(self.temp), "w", sample_rate, channels, format=fmt, subtype=subtype
            )
        except BaseException:
            self._atomic.close()
            raise
        self._file.title = (title or " ".join(text.split())[:80]) or "Studio voice"
        self._file.comment = json.dumps(meta, ensure_ascii=False)
        self._file.software = "Studio 0.1 (voice)"
        self.frames = 0

    def write(self, samples: np.ndarray) -> None:
        self._file.write(np.clip(samples, -1.0, 1.0))
        self.frames += len(samples)

    def __call__(self, chunk: SpeechChunk) -> None:
        self.write(chunk.samples)

    def close(self) -> None:
        """Finish the file and put it in place (once; later calls do nothing)."""
        self._finish(None)

    def _finish(self, exc: BaseException | None) -> None:
        stack = self.__dict__.pop("_atomic", None)
        if stack is None:
            return
        try:
            self._file.close()
        except BaseException as error:
            stack.__exit__(type(error), error, error.__traceback__)
            raise
        if exc is None:
            stack.close()  # fsync and rename over the target
        else:
            # a failed or cancelled export: the temporary goes, the old file stays
            stack.__exit__(type(exc), exc, exc.__traceback__)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type, exc, _tb) -> None:
        self._finish(exc if exc_type is not None else None)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The title, the JSON comment (text and settings) and the software tag of an exported file."""
    import soundfile

    with soundfile.SoundFile(str(path)) as f:
        try:
            comment = json.loads(f.comment) if f.comment else {}
        except ValueError:
            comment = {"comment": f.comment}
        return {
            "title": f.title,
            "software": f.software,
            "frames": f.frames,
            "sample_rate": f.samplerate,
            **comment,
        }
