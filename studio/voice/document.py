"""The Voice panel's document, without Qt: the text (plain or SSML), the lyrics and melody to
sing, the settings, and the takes (spoken and sung audio with their provenance and labels).

Values are immutable: the settings are a frozen dataclass, the takes a tuple of frozen
:class:`Take` whose sample arrays are read-only, the melody a MIDI clip that is copied on the
way in and never changed. Every change replaces a value, so an undo step and an autosave
snapshot hold references, not copies.

On disk (a project's ``voice/`` folder)::

    document.json        text, SSML, lyrics, settings, the takes' labels and provenance, history
    melody.mid           the melody to sing (when there is one)
    takes/take-N.flac    each take, 24-bit FLAC (lossless to 1/8 million of full scale)

A take already on disk (same file, same ``uid`` in the old document.json) is not written again,
so saving a project with minutes of takes after a text edit costs a few milliseconds.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as _dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import atomic_path, write_text
from studio.core.document import (
    DOCUMENT_JSON,
    Document,
    DocumentError,
    plain,
    read_json,
    to_jsonable,
    write_json,
)
from studio.core.media import MidiClip
from studio.voice.voices import DEFAULT_VOICE

__all__ = [
    "VoiceDocument",
    "VoiceSettings",
    "Take",
    "SAMPLE_TEXT",
    "SAMPLE_LYRICS",
    "TEXT_SUFFIXES",
    "AUDIO_SUFFIXES",
    "read_text_file",
    "write_take",
    "looks_like_ssml",
]

SAMPLE_TEXT = (
    "<speak>Welcome to Studio. This voice runs on your own computer, with no cloud service.\n"
    '<p>You can use <emphasis>SSML</emphasis> too: <break time="400ms"/>'
    '<prosody rate="slow" pitch="-2st">slower and lower,</prosody> or read a date: '
    '<say-as interpret-as="date" format="ymd">2026-11-27</say-as>.</p></speak>'
)
SAMPLE_LYRICS = "Hap-py birth-day to you"
TEXT_SUFFIXES = (".txt", ".ssml", ".xml")
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
TAKES = "takes"
MELODY = "melody.mid"


def looks_like_ssml(text: str) -> bool:
    """Text starting with ``<speak`` is read as SSML when the document does not say."""
    return text.lstrip().startswith("<speak")


@dataclass(frozen=True)
class VoiceSettings:
    """The Voice panel's controls: the voice and how it speaks and sings."""

    engine: str = ""  # the voice list shows: "" every engine, "piper", "espeak", "plugin"
    voice: str = DEFAULT_VOICE  # "piper:<name>", "espeak:<id>" or "plugin:<contribution id>"
    rate: float = 1.0
    pitch: float = 0.0
    volume: float = 1.0
    sentence_pause: float = 0.3
    variation: float = 1.0
    vibrato_depth: float = 30.0
    vibrato_rate: float = 5.5
    vibrato_delay: float = 0.3
    glide: float = 0.06
    transpose: int = 0
    track: int | None = None  # the melody's MIDI channel to sing (None: the first with notes)
    accompaniment: bool = False  # mix the melody's other tracks under the voice
    plugin_params: tuple[tuple[str, Any], ...] = ()  # a plugin voice's own parameters

    @property
    def plugin(self) -> str | None:
        """The plugin contribution id when the voice is a plugin's, else None."""
        return self.voice.split(":", 1)[1] if self.voice.startswith("plugin:") else None

    def speech(self, ssml: bool | None = None):
        """The :class:`~studio.voice.speech.SpeechSettings` for :func:`speak`."""
        from studio.voice.speech import SpeechSettings

        return SpeechSettings(
            voice=self.voice, rate=self.rate, pitch=self.pitch, volume=self.volume,
            sentence_pause=self.sentence_pause, variation=self.variation, ssml=ssml,
        )  # fmt: skip

    def sing(self):
        """The :class:`~studio.voice.sing.SingSettings` for :func:`sing_clip`."""
        from studio.voice.sing import SingSettings

        return SingSettings(
            voice=self.voice, vibrato_depth=self.vibrato_depth, vibrato_rate=self.vibrato_rate,
            vibrato_delay=self.vibrato_delay, glide=self.glide, transpose=self.transpose,
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceSettings:
        """From document.json; unknown keys are left out and a wrong type keeps the default."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        default = cls()
        for key, value in dict(data).items():
            if key not in names:
                continue
            if key == "plugin_params":
                with contextlib.suppress(TypeError, ValueError):
                    values[key] = tuple((str(k), v) for k, v in value)
                continue
            if key == "track":
                values[key] = None if value is None else int(value)
                continue
            kind = type(getattr(default, key))
            with contextlib.suppress(TypeError, ValueError):
                values[key] = kind(value)
        return cls(**values)


def _frozen(samples: np.ndarray) -> np.ndarray:
    array = np.asarray(samples, dtype=np.float32)
    if array.flags.writeable:  # the caller's array: keep a copy nobody else can change
        array = array.copy()
        array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Take:
    """One spoken or sung result. ``samples`` is read-only (frames, or frames x channels)."""

    id: int  # 1, 2, 3... in the order made; its file is takes/take-<id>.flac
    kind: str  # "speech" or "song"
    samples: np.ndarray = field(repr=False)
    sample_rate: int
    text: str = ""  # what was said, or the lyrics sung
    label: str = ""  # shown in the takes list; the artist may rename it
    provenance: dict[str, Any] = field(default_factory=dict)  # engine, voice, settings
    marks: tuple[tuple[float, str], ...] = ()  # (seconds, sentence) where each sentence starts
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)  # which audio (skip rewrites)
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", _frozen(self.samples))
        if not self.label:
            object.__setattr__(self, "label", self.default_label())

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def file(self) -> str:
        return f"{TAKES}/take-{self.id}.flac"

    def default_label(self) -> str:
        what = "spoken" if self.kind == "speech" else "sung"
        words = " ".join(self.text.split())
        if looks_like_ssml(words):
            import re

            words = " ".join(re.sub(r"<[^>]*>", " ", words).split())
        excerpt = f" · {words[:40]}…" if len(words) > 40 else (f" · {words}" if words else "")
        return f"Take {self.id} · {what} · {self.duration:.1f} s{excerpt}"

    def renamed(self, label: str) -> Take:
        return dataclasses.replace(self, label=label.strip() or self.default_label())

    def audio(self):
        """The take as an :class:`~studio.core.media.AudioClip` (shares the samples)."""
        from studio.core.media import AudioClip

        return AudioClip(self.samples, self.sample_rate, provenance=dict(self.provenance))

    def meta(self) -> dict[str, Any]:
        """What document.json holds about the take (the audio is in its file)."""
        return {
            "id": self.id, "kind": self.kind, "file": self.file, "label": self.label,
            "text": self.text, "sample_rate": self.sample_rate, "frames": len(self.samples),
            "channels": self.channels, "seconds": round(self.duration, 3), "uid": self.uid,
            "created": self.created, "marks": [list(m) for m in self.marks],
            "provenance": _plain(self.provenance),
        }  # fmt: skip


_plain = plain  # provenance as plain JSON


def _tomlable(value: Any) -> Any:
    """TOML has no null: leave None out (project.toml lists the provenance)."""
    if isinstance(value, dict):
        return {k: _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_tomlable(v) for v in value if v is not None]
    return value


def write_take(
    take: Take, path: str | Path, text: str | None = None, settings: dict | None = None
) -> Path:
    """Write ``take`` as WAV, FLAC or OGG by suffix (atomically), with its text and settings in
    the file's metadata. Raises ValueError for another suffix, OSError when it can't be
    written."""
    from studio.voice.speech import AudioWriter

    path = Path(path)
    with atomic_path(path) as temp:
        with AudioWriter(
            temp, take.sample_rate, take.channels,
            text=take.text if text is None else text,
            settings=_plain(take.provenance if settings is None else settings),
            title=take.label,
        ) as writer:  # fmt: skip
            writer.write(take.samples)
    return path


def read_text_file(path: str | Path) -> tuple[str, bool | None]:
    """The text of a .txt, .ssml or .xml file and whether it is SSML (None for plain text: the
    document then reads ``<speak>`` as SSML). Raises DocumentError naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise DocumentError(
            f"{path.name}: a voice document starts from a text file ({', '.join(TEXT_SUFFIXES)}) "
            f"or a melody ({', '.join(MIDI_SUFFIXES)}), not {suffix or 'a file without suffix'}"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DocumentError(f"{path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{path.name} is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DocumentError(f"{path.name} could not be read: {exc.strerror or exc}") from exc
    if "\x00" in text:
        raise DocumentError(f"{path.name} is not a text file (it holds binary data)")
    if not text.strip():
        raise DocumentError(f"{path.name} is empty: there is nothing to say")
    return text, (True if suffix in (".ssml", ".xml") else None)


def read_melody(path: str | Path) -> MidiClip:
    """A MIDI file to sing. Raises DocumentError when it is unreadable or has no notes."""
    path = Path(path)
    try:
        clip = MidiClip.load(path)
    except (ValueError, OSError, EOFError) as exc:
        raise DocumentError(f"{path.name} is not a readable MIDI file: {exc}") from exc
    if not clip.notes:
        raise DocumentError(f"{path.name} has no notes to sing")
    return clip


class VoiceDocument(Document):
    """Everything the Voice panel shows and edits. ``selected`` (the take in front) and
    ``mode`` ("speak" or "sing", the tab in front) are view state: saved, never undone."""

    KIND = "voice"
    VERSION = 1
    EXPORT_SUFFIXES = (".wav", ".flac", ".ogg", ".txt", ".ssml")
    FIELDS = {
        "text": SAMPLE_TEXT,
        "ssml": None,  # None: text starting with <speak is SSML; True / False: always / never
        "lyrics": SAMPLE_LYRICS,
        "melody": None,  # MidiClip to sing, copied on the way in, never changed
        "melody_name": "",  # where it came from ("the Music panel", "song.mid")
        "settings": VoiceSettings,
        "takes": tuple,
        "selected": 0,  # the take id in front (0: none)
        "mode": "speak",
    }
    QUIET_FIELDS = frozenset({"selected", "mode"})

    # -- reading the content -----------------------------------------------------------------------
    @property
    def is_ssml(self) -> bool:
        return looks_like_ssml(self.text) if self.ssml is None else bool(self.ssml)

    def take(self, take_id: int | None = None) -> Take | None:
        """The take ``take_id``; by default the selected one, or the newest when none is."""
        wanted = self.selected if take_id is None else take_id
        for take in self.takes:
            if take.id == wanted:
                return take
        return self.takes[-1] if take_id is None and self.takes else None

    def next_take_id(self) -> int:
        return max((t.id for t in self.takes), default=0) + 1

    def summary(self) -> str:
        return _summary(self.text, self.takes)

    # -- edits (each one undo step) ----------------------------------------------------------------
    def add_take(self, take: Take, label: str | None = None) -> Take:
        """Add ``take`` (its id is made the next free one) and select it, as one undo step."""
        if any(t.id == take.id for t in self.takes) or take.id <= 0:
            take = dataclasses.replace(take, id=self.next_take_id(), label="")
        what = "Speak" if take.kind == "speech" else "Sing"
        self.set(label or f"{what}: take {take.id}", takes=(*self.takes, take), selected=take.id)
        return take

    def remove_take(self, take_id: int) -> None:
        takes = tuple(t for t in self.takes if t.id != take_id)
        if len(takes) == len(self.takes):
            return
        selected = self.selected if self.selected != take_id else (takes[-1].id if takes else 0)
        self.set(f"Delete take {take_id}", takes=takes, selected=selected)

    def rename_take(self, take_id: int, label: str) -> None:
        takes = tuple(t.renamed(label) if t.id == take_id else t for t in self.takes)
        self.set(f"Rename take {take_id}", takes=takes)

    def set_melody(self, clip: MidiClip, name: str, label: str | None = None) -> None:
        """Sing ``clip`` (copied: the caller may go on changing its own)."""
        settings = dataclasses.replace(self.settings, track=None)
        self.set(
            label or f"Melody from {name}",
            melody=copy.deepcopy(clip), melody_name=name, settings=settings,
        )  # fmt: skip

    def change_settings(self, label: str, merge_key: str | None = None, **changes: Any) -> None:
        """Change some settings as one undo step (``merge_key``: consecutive spins merge)."""
        self.set(label, merge_key=merge_key, settings=dataclasses.replace(self.settings, **changes))

    # -- plain files -------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> VoiceDocument:
        """A document to speak a .txt file (plain text) or a .ssml / .xml file (SSML), or to
        sing a .mid melody. Raises DocumentError for anything else or unreadable input."""
        path = Path(path)
        if path.suffix.lower() in MIDI_SUFFIXES:
            return cls(melody=read_melody(path), melody_name=path.name, mode="sing")
        text, ssml = read_text_file(path)
        return cls(text=text, ssml=ssml)

    def export(self, path: str | Path) -> Path:
        """Write the text (.txt, .ssml) or the selected take (.wav, .flac, .ogg; the newest when
        none is selected). Raises DocumentError for another suffix or when there is no take."""
        path = Path(path)
        suffix = path.suffix.lower()
        try:
            if suffix in (".txt", ".ssml"):
                return write_text(path, self.text)
            if suffix in AUDIO_SUFFIXES:
                take = self.take()
                if take is None:
                    raise DocumentError("no take yet: speak or sing first, then export")
                return write_take(take, path)
        except OSError as exc:
            raise DocumentError(f"could not write {path}: {exc.strerror or exc}") from exc
        raise DocumentError(
            f"{path.name}: the voice exports {', '.join(self.EXPORT_SUFFIXES)}, "
            f"not {suffix or 'a file without suffix'}"
        )

    # -- projects ----------------------------------------------------------------------------------
    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        """document.json, melody.mid and takes/take-N.flac. Takes already in ``folder`` (same
        uid in its document.json, file present) are not written again; files of takes no
        longer in the document are removed after document.json lists the new set."""
        folder = Path(folder)
        takes: tuple[Take, ...] = snapshot["takes"]
        on_disk: dict[str, str] = {}
        with contextlib.suppress(DocumentError, TypeError, AttributeError):
            for meta in read_json(folder / DOCUMENT_JSON).get("fields", {}).get("takes", []):
                on_disk[str(meta.get("file"))] = str(meta.get("uid"))
        files: list[str] = []
        if takes:
            (folder / TAKES).mkdir(exist_ok=True)
        for take in takes:
            target = folder / take.file
            if on_disk.get(take.file) != take.uid or not target.is_file():
                _write_flac(take, target)
            files.append(take.file)
        melody: MidiClip | None = snapshot["melody"]
        if melody is not None:
            with atomic_path(folder / MELODY) as temp:
                melody.save(temp)
            files.append(MELODY)
        fields = {
            name: to_jsonable(value)
            for name, value in snapshot.items()
            if name not in ("__history__", "takes", "melody")
        }
        fields["takes"] = [t.meta() for t in takes]
        fields["melody"] = MELODY if melody is not None else None
        data = {
            "kind": cls.KIND, "version": cls.VERSION,
            "history": list(snapshot.get("__history__", [])), "fields": fields,
        }  # fmt: skip
        write_json(folder / DOCUMENT_JSON, data)
        keep = {Path(f).name for f in files}
        if (folder / TAKES).is_dir():
            for stale in (folder / TAKES).glob("take-*.flac"):
                if stale.name not in keep:
                    with contextlib.suppress(OSError):
                        stale.unlink()
        settings: VoiceSettings = snapshot["settings"]
        provenance = {
            "engine": "studio/voice",
            "voice": settings.voice,
            "takes": [
                _tomlable({"file": t.file, "seconds": round(t.duration, 2), **_plain(t.provenance)})
                for t in takes
            ],
        }
        return {
            "files": [DOCUMENT_JSON, *files],
            "summary": _summary(snapshot["text"], takes),
            "provenance": _tomlable(provenance),
        }

    @classmethod
    def read(cls, folder: Path) -> VoiceDocument:
        """The document in ``folder``. A missing or unreadable take or melody is left out with a
        line in ``messages``; the rest opens. A newer format raises DocumentError."""
        folder = Path(folder)
        data = read_json(folder / DOCUMENT_JSON)
        version = int(data.get("version", 1))
        if version > cls.VERSION:
            raise DocumentError(
                f"the voice document was written by a newer Studio (format {version}, "
                f"this one reads up to {cls.VERSION})"
            )
        fields = dict(data.get("fields", {}))
        messages: list[str] = []
        values: dict[str, Any] = {}
        for name in ("text", "lyrics", "melody_name", "mode"):
            if isinstance(fields.get(name), str):
                values[name] = fields[name]
        if fields.get("ssml") in (True, False, None):
            values["ssml"] = fields.get("ssml")
        if isinstance(fields.get("settings"), dict):
            values["settings"] = VoiceSettings.from_dict(fields["settings"])
        if fields.get("melody"):
            try:
                values["melody"] = MidiClip.load(folder / str(fields["melody"]))
            except (ValueError, OSError, EOFError) as exc:
                messages.append(f"the melody ({fields['melody']}) could not be read: {exc}")
                values["melody_name"] = ""
        takes: list[Take] = []
        for meta in fields.get("takes", []) or []:
            take = _read_take(folder, meta, messages)
            if take is not None:
                takes.append(take)
        values["takes"] = tuple(takes)
        selected = fields.get("selected", 0)
        ids = {t.id for t in takes}
        values["selected"] = selected if selected in ids else (takes[-1].id if takes else 0)
        doc = cls(**values)
        doc.messages.extend(messages)
        return doc


def _summary(text: str, takes: tuple[Take, ...]) -> str:
    words = len(text.split())
    seconds = sum(t.duration for t in takes)
    return (
        f"{words} word{'s' * (words != 1)}, {len(takes)} take{'s' * (len(takes) != 1)}, "
        f"{seconds:.1f} s"
    )


def _write_flac(take: Take, target: Path) -> None:
    import soundfile

    with atomic_path(target) as temp:
        soundfile.write(
            str(temp), np.clip(take.samples, -1.0, 1.0), take.sample_rate,
            format="FLAC", subtype="PCM_24",
        )  # fmt: skip


def _read_take(folder: Path, meta: Any, messages: list[str]) -> Take | None:
    import soundfile

    try:
        file = str(meta["file"])
        take_id = int(meta["id"])
    except (KeyError, TypeError, ValueError):
        messages.append(f"a take without a file or number was left out ({meta!r:.80})")
        return None
    try:
        samples, rate = soundfile.read(str(folder / file), dtype="float32", always_2d=False)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        reason = "is missing" if not (folder / file).exists() else f"could not be read ({exc})"
        messages.append(f"take {take_id} ({file}) {reason}: it was left out")
        return None
    try:
        marks = tuple((float(t), str(s)) for t, s in meta.get("marks", []))
    except (TypeError, ValueError):
        marks = ()
    provenance = meta.get("provenance", {})
    return Take(
        id=take_id, kind=str(meta.get("kind", "speech")), samples=samples,
        sample_rate=int(rate), text=str(meta.get("text", "")), label=str(meta.get("label", "")),
        provenance=provenance if isinstance(provenance, dict) else {}, marks=marks,
        uid=str(meta.get("uid") or uuid.uuid4().hex),
        created=str(meta.get("created", "")),
    )  # fmt: skip
