"""Speech to text with pocketsphinx's bundled US English model (offline)."""

from __future__ import annotations

import numpy as np

from studio.plugins.api import AudioClip, Generator, JobContext, Param

RATE = 16000


def to_16k(clip: AudioClip) -> np.ndarray:
    """Mono 16 kHz int16 samples (what the acoustic model was trained on)."""
    samples = np.asarray(clip.samples, np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if clip.sample_rate != RATE:
        from scipy.signal import resample_poly  # scipy comes with Studio

        gcd = np.gcd(int(clip.sample_rate), RATE)
        samples = resample_poly(samples, RATE // gcd, int(clip.sample_rate) // gcd)
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)


class Dictation(Generator):
    kind = "transcriber"
    title = "Dictation (pocketsphinx, US English)"
    params = (
        Param("chunk_seconds", "float", 1.0, minimum=0.1, maximum=10.0,
              help="how much audio is decoded between progress reports"),
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self._decoder = None

    def load(self, device: str) -> None:
        from pocketsphinx import Decoder

        super().load(device)
        if self._decoder is None:
            self._decoder = Decoder(samprate=RATE, logfn="/dev/null")

    def unload(self) -> None:
        self._decoder = None
        super().unload()

    def run(self, request: dict, ctx: JobContext) -> str:
        clip = request.get("audio")
        if not isinstance(clip, AudioClip):
            raise ValueError("dictation needs the speech as an AudioClip (audio)")
        if self._decoder is None:
            self.load(self.device)
        pcm = to_16k(clip)
        if pcm.size < RATE // 10:
            raise ValueError("the recording is too short to hold speech")
        step = int(RATE * request["chunk_seconds"])
        decoder = self._decoder
        decoder.start_utt()
        for start in range(0, pcm.size, step):
            ctx.check_cancelled()
            decoder.process_raw(pcm[start : start + step].tobytes(), False, False)
            ctx.progress(min(1.0, (start + step) / pcm.size), "listening")
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis else ""
