"""The built-in voice engines as plugin-contract generators (kind ``voice``).

A voice generator takes ``text`` (plain or SSML) and returns an AudioClip. Two optional extras of
the voice kind, which the Voice panel uses and plugins may offer too: ``voices()`` lists the
voices it speaks (the panel's picker), and ``request["sink"]``, a callable given each clause's
:class:`~studio.voice.speech.SpeechChunk` as soon as it is made (streaming playback).
"""

from __future__ import annotations

from typing import Any

from studio.plugins.api import Generator, JobContext
from studio.voice.speech import SPEECH_PARAMS

__all__ = ["PiperVoiceGenerator", "EspeakVoiceGenerator"]


class _VoiceGenerator(Generator):
    kind = "voice"
    engine = ""

    def __init__(self) -> None:
        super().__init__()
        self._cache = None

    def load(self, device: str) -> None:
        from studio.core.models import ModelStore
        from studio.voice.speech import SpeakerCache

        super().load(device)
        self._cache = SpeakerCache(ModelStore.from_settings(), device)

    def unload(self) -> None:
        if self._cache is not None:
            self._cache.release()
        self._cache = None
        super().unload()

    def voices(self):
        """The voices this engine speaks (VoiceInfo list)."""
        if self._cache is None:
            self.load(self.device)
        assert self._cache is not None
        return [v for v in self._cache.voices() if v.engine == self.engine]

    def run(self, request: dict[str, Any], ctx: JobContext):
        from studio.voice.speech import SpeechSettings, speak

        voices = self.voices()
        if not voices:
            raise RuntimeError(f"no {self.engine} voices are installed")
        wanted = request.get("voice") or voices[0].id
        settings = SpeechSettings(
            voice=wanted,
            rate=request["rate"],
            pitch=request["pitch"],
            volume=request["volume"],
            sentence_pause=request["sentence_pause"],
            variation=float(request.get("variation", 1.0)),
            ssml=request.get("ssml"),
        )
        result = speak(
            str(request.get("text", "")), settings, ctx, cache=self._cache, sink=request.get("sink")
        )
        if result.audio is None:
            raise ValueError("the speech is too long to keep in memory; export it to a file")
        result.audio.provenance["marks"] = [(m.time, m.text[:80]) for m in result.marks]
        result.audio.provenance["warnings"] = result.warnings
        return result.audio


class PiperVoiceGenerator(_VoiceGenerator):
    title = "Piper neural voice"
    description = (
        "Natural neural speech (Piper on onnxruntime). The default US English voice comes with "
        "Studio; put any Piper voice (.onnx with its .onnx.json) in the model folder's voice/."
    )
    engine = "piper"
    params = SPEECH_PARAMS


class EspeakVoiceGenerator(_VoiceGenerator):
    title = "eSpeak NG (100+ languages)"
    description = "Instant formant speech in over a hundred languages; robotic but clear."
    engine = "espeak"
    params = tuple(p for p in SPEECH_PARAMS if p.name != "variation")  # Piper only
