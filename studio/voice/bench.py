"""``studio bench voice``: real-time factors, time to first audio against synthesizing all first,
cancel, and singing speed."""

from __future__ import annotations

import threading
import time
from typing import Any

from studio.core.jobs import Cancelled, JobContext

__all__ = ["bench_voice", "BENCH_TEXT"]

_PARAGRAPH = (
    "The studio was quiet in the early morning, and the artist opened a new project. "
    "She sketched a melody of eight bars, listened to it twice, and changed the last phrase. "
    "Then she wrote a few lines of lyrics, because the tune seemed to ask for words, "
    "and asked the voice to sing them over the chords. "
)


def _words(n: int) -> str:
    words = (_PARAGRAPH * (n // len(_PARAGRAPH.split()) + 1)).split()[:n]
    return " ".join(words).rstrip(",") + "."


BENCH_TEXT = _words(1000)


def bench_voice(ctx: JobContext) -> dict[str, Any]:
    """Piper and eSpeak real-time factors, time to first audio (streamed vs all first) for a
    1,000-word text, synthesis stop after cancel, singing real-time factor"""
    import os

    from studio.core.media import Note
    from studio.voice.sing import SingSettings, sing
    from studio.voice.speech import SpeakerCache, SpeechSettings, speak

    results: dict[str, Any] = {"cpu_threads": os.cpu_count()}
    cache = SpeakerCache()
    ctx.progress(0.02, "loading the Piper voice")
    began = time.perf_counter()
    piper = cache.get("piper:en_US-joe-medium")
    results["piper_load_s"] = round(time.perf_counter() - began, 3)
    results["piper_device"] = getattr(piper, "device", "cpu")
    sample = _words(120)

    def rtf(voice: str) -> float:
        speak("Warm up.", SpeechSettings(voice=voice), JobContext(), cache=cache)
        began = time.perf_counter()
        r = speak(
            sample, SpeechSettings(voice=voice, sentence_pause=0.0), JobContext(), cache=cache
        )
        return (time.perf_counter() - began) / r.duration

    ctx.progress(0.1, "Piper real-time factor")
    results["piper_rtf"] = round(rtf("piper:en_US-joe-medium"), 4)
    ctx.progress(0.2, "eSpeak NG real-time factor")
    results["espeak_rtf"] = round(rtf("espeak:gmw/en-US"), 4)

    ctx.check_cancelled()
    ctx.progress(0.3, "time to first audio, streamed (1,000 words)")
    first: list[float] = []
    stream_ctx = JobContext()

    def sink(_chunk) -> None:
        if not first:
            first.append(time.perf_counter() - began)
            stream_ctx.cancel()  # only the first clause matters here

    began = time.perf_counter()
    try:
        speak(BENCH_TEXT, SpeechSettings(), stream_ctx, cache=cache, sink=sink, keep_seconds=0)
    except Cancelled:
        pass
    results["first_audio_streamed_s"] = round(first[0], 4)
    ctx.progress(0.35, "time to first audio when all is synthesized first (baseline)")
    began = time.perf_counter()
    whole = speak(BENCH_TEXT, SpeechSettings(), JobContext(), cache=cache, keep_seconds=0)
    results["first_audio_all_first_s"] = round(time.perf_counter() - began, 3)
    results["bench_text_audio_s"] = round(whole.duration, 1)
    results["first_audio_speedup"] = round(
        results["first_audio_all_first_s"] / results["first_audio_streamed_s"], 1
    )

    ctx.check_cancelled()
    ctx.progress(0.8, "synthesis stop after cancel")
    stops = []
    for _ in range(5):
        cancel_ctx = JobContext()
        clock: dict[str, float] = {}

        def later(c=cancel_ctx, clock=clock) -> None:
            time.sleep(0.25)
            clock["cancel"] = time.perf_counter()
            c.cancel()

        threading.Thread(target=later, daemon=True).start()
        try:
            speak(BENCH_TEXT, SpeechSettings(), cancel_ctx, cache=cache, keep_seconds=0)
        except Cancelled:
            stops.append(time.perf_counter() - clock["cancel"])
    results["synthesis_stop_after_cancel_max_s"] = round(max(stops), 4)

    ctx.progress(0.9, "singing real-time factor (16 notes)")
    notes = [Note(i * 1.0, 60 + (0, 2, 4, 5, 7, 5, 4, 2)[i % 8], 0.9) for i in range(16)]
    lyrics = "twin-kle twin-kle lit-tle star how I won-der what you are up a-bove"
    sing(notes, 100, "la", SingSettings(), JobContext(), cache=cache)  # warm
    began = time.perf_counter()
    song = sing(notes, 100, lyrics, SingSettings(), JobContext(), cache=cache)
    results["sing_rtf"] = round((time.perf_counter() - began) / song.audio.duration, 4)
    ctx.progress(1.0, "done")
    return results
