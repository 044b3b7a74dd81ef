"""eSpeak NG through ctypes, on the library and voice data that espeakng-loader ships.

eSpeak keeps global state, so every call holds one lock. Synthesis returns 16-bit samples through a
callback; returning 1 from it stops synthesis at once, which is how cancel works.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["EspeakLibrary", "EspeakUnavailable", "EspeakVoiceEntry", "library"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH = 1, 2, 3


class EspeakUnavailable(RuntimeError):
    """espeakng-loader (the eSpeak NG library and its data) is not installed or does not load."""


@dataclass(frozen=True)
class EspeakVoiceEntry:
    name: str
    identifier: str
    languages: tuple[str, ...]
    gender: int


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakLibrary:
    """One loaded libespeak-ng. Use :func:`library` to share it."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise EspeakUnavailable(
                "eSpeak NG is not installed (pip install espeakng-loader)"
            ) from exc
        try:
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = Path(espeakng_loader.get_data_path())
        except (OSError, RuntimeError) as exc:
            raise EspeakUnavailable(f"eSpeak NG does not load: {exc}") from exc
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self._lock = threading.Lock()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data.parent).encode(), 0)
        if rate <= 0:
            raise EspeakUnavailable(f"eSpeak NG did not initialise with its data at {data}")
        self.sample_rate = int(rate)
        self._chunks: list[np.ndarray] = []
        self._stop: Callable[[], bool] = lambda: False
        self._callback = _Callback(self._on_samples)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voices: list[EspeakVoiceEntry] | None = None

    def _on_samples(self, wav, count, _events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 1 if self._stop() else 0

    def voices(self) -> list[EspeakVoiceEntry]:
        """Every voice in the data: name, identifier and languages (first is the main one)."""
        with self._lock:
            if self._voices is None:
                found: list[EspeakVoiceEntry] = []
                array = self._lib.espeak_ListVoices(None)
                i = 0
                while array[i]:
                    voice = array[i].contents
                    langs: list[str] = []
                    pointer = voice.languages
                    while pointer and ctypes.c_ubyte.from_address(pointer).value:
                        lang = ctypes.string_at(pointer + 1).decode("utf-8", "replace")
                        langs.append(lang)
                        pointer += 2 + len(lang.encode())
                    found.append(
                        EspeakVoiceEntry(
                            voice.name.decode("utf-8", "replace"),
                            voice.identifier.decode("utf-8", "replace"),
                            tuple(langs),
                            int(voice.gender),
                        )
                    )
                    i += 1
                self._voices = found
            return list(self._voices)

    def synthesize(
        self,
        text: str,
        voice: str,
        *,
        words_per_minute: int = 175,
        pitch: int = 50,
        volume: int = 100,
        stop: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """Speak ``text`` with voice ``voice`` (a language or identifier, such as en-us). Returns
        float32 samples at :attr:`sample_rate`. ``stop()`` is polled per block of samples.

        Raises ValueError for an unknown voice.
        """
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            self._lib.espeak_SetParameter(_RATE, int(min(max(words_per_minute, 80), 450)), 0)
            self._lib.espeak_SetParameter(_PITCH, int(min(max(pitch, 0), 99)), 0)
            self._lib.espeak_SetParameter(_VOLUME, int(min(max(volume, 0), 200)), 0)
            self._chunks = []
            self._stop = stop or (lambda: False)
            try:
                self._lib.espeak_Synth(
                    data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
                )
            finally:
                chunks, self._chunks = self._chunks, []
                self._stop = lambda: False
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32) / 32768.0


_LIBRARY: EspeakLibrary | None = None
_LIBRARY_LOCK = threading.Lock()


def library() -> EspeakLibrary:
    """The process's eSpeak NG library, loaded on first use. Raises EspeakUnavailable."""
    global _LIBRARY
    with _LIBRARY_LOCK:
        if _LIBRARY is None:
            _LIBRARY = EspeakLibrary()
        return _LIBRARY
