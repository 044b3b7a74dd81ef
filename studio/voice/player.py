"""Streaming playback: audio is fed while it is being made, and cancel silences it at once.

No Qt. The synthesis thread calls :meth:`StreamPlayer.feed`; the sound card's callback takes
blocks from the queue. :meth:`StreamPlayer.cancel` makes the very next callback silent and stops
the stream; ``cancel_latency`` reports how long sound went on after it (the time from ``cancel()``
to the last non-silent frame handed to the callback, 0 when none followed).
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from studio.music.playback import AudioPlayer, NoAudioDevice

__all__ = ["StreamPlayer", "NoAudioDevice"]


class StreamPlayer:
    """Plays mono or stereo float32 audio fed in pieces. Thread-safe."""

    def __init__(self, blocksize: int = 512) -> None:
        self.blocksize = blocksize
        self._queue: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self._stream = None
        self._finished_input = False
        self._cancelled = False
        self.sample_rate = 22050
        self.channels = 1
        self.frames_played = 0
        self.underruns = 0
        self.cancelled_at: float | None = None
        self.last_sound_at: float | None = None
        self.done = threading.Event()

    def start(self, sample_rate: int, channels: int = 1) -> None:
        """Open the default output. Raises NoAudioDevice without one."""
        ok, why = AudioPlayer.output_available()
        if not ok:
            raise NoAudioDevice(why + "; use Export to write a file instead")
        import sounddevice as sd

        self.stop()
        with self._lock:
            self._queue.clear()
            self._finished_input = False
            self._cancelled = False
            self.sample_rate, self.channels = sample_rate, channels
            self.frames_played = self.underruns = 0
            self.cancelled_at = self.last_sound_at = None
            self.done.clear()
        try:
            self._stream = sd.OutputStream(
                samplerate=sample_rate,
                channels=channels,
                dtype="float32",
                blocksize=self.blocksize,
                callback=self._callback,
                finished_callback=self.done.set,
            )
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error types
            self._stream = None
            raise NoAudioDevice(f"could not open the audio output ({exc})") from exc

    def feed(self, samples: np.ndarray) -> None:
        """Queue ``samples`` (float32, frames or frames x channels) after what is queued."""
        if self._cancelled or len(samples) == 0:
            return
        block = np.asarray(samples, dtype=np.float32)
        if block.ndim == 1:
            block = block[:, None]
        if block.shape[1] != self.channels:
            block = np.repeat(block[:, :1], self.channels, axis=1)
        with self._lock:
            self._queue.append(block)

    def finish(self) -> None:
        """No more input: the stream ends when the queue is empty."""
        with self._lock:
            self._finished_input = True

    @property
    def queued_seconds(self) -> float:
        with self._lock:
            return sum(len(b) for b in self._queue) / self.sample_rate

    @property
    def position(self) -> float:
        """Seconds played so far."""
        return self.frames_played / self.sample_rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self.done.is_set()

    def _callback(self, outdata, frames, _time, _status) -> None:
        import sounddevice as sd

        if self._cancelled:
            outdata[:] = 0
            raise sd.CallbackStop
        written = 0
        with self._lock:
            while written < frames and self._queue:
                head = self._queue[0]
                take = min(frames - written, len(head))
                outdata[written : written + take] = head[:take]
                if take == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[take:]
                written += take
            finished = self._finished_input and not self._queue
        if written < frames:
            outdata[written:] = 0
            if not finished:
                self.underruns += 1
        if written and np.any(outdata[:written]):
            self.last_sound_at = time.monotonic()
        self.frames_played += written
        if finished:
            raise sd.CallbackStop

    def cancel(self) -> None:
        """Silence now: the next callback plays nothing and the stream stops."""
        self.cancelled_at = time.monotonic()
        with self._lock:
            self._cancelled = True
            self._queue.clear()
        stream = self._stream
        if stream is not None:
            try:
                stream.abort()
            except Exception:  # noqa: BLE001 - a vanished device must not block stopping
                pass

    @property
    def cancel_latency(self) -> float | None:
        """Seconds of sound after :meth:`cancel` (0.0 when the last sound came before it)."""
        if self.cancelled_at is None:
            return None
        if self.last_sound_at is None:
            return 0.0
        return max(0.0, self.last_sound_at - self.cancelled_at)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream has played everything (or was cancelled)."""
        return self.done.wait(timeout)

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self.cancel()
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass
