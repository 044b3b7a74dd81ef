"""The mixdown: every lane's clips rendered, effected, panned and summed, then mastered to a
loudness target.

- MIDI clips are rendered with the SoundFont (FluidSynth) at the arrangement's tempo map, so a
  tempo change moves their notes; audio is read (files) or taken from memory (takes) and
  resampled to the mix rate with soxr (22.05, 44.1 and 48 kHz sources mix); a sung take whose
  ``sung_bpm`` differs from the tempo is re-timed with WORLD (pitch kept) to stay on its melody.
- Effects come from Spotify's pedalboard (EQ shelves and peak, compressor, delay, reverb) per
  lane and on the master; reverb and delay are send buses (one reverb for all lanes: the same
  sound, since both are linear, for the cost of one).
- Mastering: integrated loudness measured with pyloudnorm (ITU-R BS.1770), gain to the target
  (-14 LUFS by default), pedalboard's look-ahead brick-wall limiter, aimed again until the
  loudness is on target, and the true peak (4x oversampled) checked at or below -1 dBTP (an
  inter-sample overshoot lowers the limiter's ceiling and aims again).

Rendered sources are cached by content and tempo, so a second mixdown after a gain or effect
change only mixes. No Qt: the panel, the CLI, the bench and the tests all call
:func:`render_mix`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.arrange.document import ArrangeClip, ArrangeDocument, Effects, Lane, Source
from studio.core.jobs import JobContext

__all__ = [
    "MixResult",
    "render_mix",
    "true_peak_db",
    "integrated_lufs",
    "MIX_RATE",
    "TRUE_PEAK_DB",
    "clear_cache",
]

MIX_RATE = 44100
TRUE_PEAK_DB = -1.0
# A mix is held in memory (float32 stereo, about 21 MB a minute per lane being mixed): longer
# arrangements are refused with a message instead of exhausting the memory.
MAX_MIX_MINUTES = 40.0
TAIL_SECONDS = 1.5  # reverb and delay ring on after the last clip
_CACHE_BYTES = 1_500_000_000
_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass
class MixResult:
    """The mastered stereo mix, each audible lane's stem (post-fader, with the master's gain),
    what the meters show, and messages about lanes that could not play."""

    audio: np.ndarray  # frames x 2 float32
    sample_rate: int
    stems: dict[int, np.ndarray] = field(default_factory=dict)  # lane id -> frames x 2
    stem_names: dict[int, str] = field(default_factory=dict)
    loudness: float = float("-inf")  # LUFS integrated, after mastering
    true_peak: float = float("-inf")  # dBTP
    gain_db: float = 0.0  # what mastering added
    lane_peaks: dict[int, float] = field(default_factory=dict)  # lane id -> dBFS
    messages: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.sample_rate


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _analyses.clear()


def _cached(key: tuple, make) -> np.ndarray:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = make()
    with _cache_lock:
        _cache[key] = value
        total = sum(v.nbytes for v in _cache.values())
        while total > _CACHE_BYTES and len(_cache) > 1:
            _, old = _cache.popitem(last=False)
            total -= old.nbytes
    return value


def _stereo(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        return np.repeat(samples[:, None], 2, axis=1)
    if samples.shape[1] == 1:
        return np.repeat(samples, 2, axis=1)
    return np.ascontiguousarray(samples[:, :2])


def _resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(samples) == 0:
        return samples
    import soxr

    return soxr.resample(samples, src, dst).astype(np.float32)


# -- sources to audio -----------------------------------------------------------------------------
def _audio_of(source: Source, rate: int) -> np.ndarray:
    """The whole source as stereo float32 at ``rate``. Raises OSError for a missing file."""

    def make() -> np.ndarray:
        samples, src_rate = _source_samples(source)
        return _stereo(_resample(samples, src_rate, rate))

    return _cached(("audio", source.id, source.path, rate), make)


def _source_samples(source: Source) -> tuple[np.ndarray, int]:
    """The source's own samples (frames x channels) and rate, before any resampling."""
    if source.samples is not None:
        return _stereo(source.samples), int(source.sample_rate)
    import soundfile

    path = Path(source.path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (moved or deleted?)")
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile's errors vary
        raise OSError(f"{path.name} could not be read: {exc}") from exc
    return _stereo(samples), int(rate)


WORLD_PERIOD = 2.5  # ms: re-timed onsets land within 1.25 ms of where the tempo puts them
_analyses: OrderedDict[tuple, tuple] = OrderedDict()


def _world_analysis(source: Source) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, float]:
    """WORLD's f0 (DIO refined by StoneMask), spectral envelope and aperiodicity of a take, made
    once per take and kept (a few takes): a later tempo change only re-synthesizes."""
    key = (source.id, source.path)
    with _cache_lock:
        if key in _analyses:
            _analyses.move_to_end(key)
            return _analyses[key]
    from studio.voice.voices import world

    pw = world()
    samples, src_rate = _source_samples(source)
    mono = samples.mean(axis=1).astype(np.float64)
    f0, t = pw.dio(mono, src_rate, frame_period=WORLD_PERIOD, f0_floor=60, f0_ceil=1000)
    f0 = pw.stonemask(mono, f0, t, src_rate)
    sp = pw.cheaptrick(mono, f0, t, src_rate)
    ap = pw.d4c(mono, f0, t, src_rate)
    value = (f0, sp, ap, src_rate, float(np.abs(mono).max()) or 1.0)
    with _cache_lock:
        _analyses[key] = value
        while len(_analyses) > 4:
            _analyses.popitem(last=False)
    return value


def _retimed(source: Source, doc: ArrangeDocument, clip: ArrangeClip, rate: int) -> np.ndarray:
    """A sung take re-timed from ``sung_bpm`` to the arrangement's tempo map at the clip, with
    WORLD (the vocoder the Sing tab uses): each output frame takes the spectrum and pitch of the
    input frame at the same beat, so the notes stay on the melody and keep their pitch."""
    sung = float(source.sung_bpm or doc.bpm)
    if abs(sung - doc.bpm) < 1e-6 and not doc.tempo_changes:
        return _audio_of(source, rate)
    origin = doc.seconds_at(clip.start) - clip.offset  # where the take's beat 0 would fall
    origin_beat = doc.beat_at(origin) if origin >= 0 else clip.start
    changes = tuple((b, t) for b, t in doc.tempo_changes)
    key = ("sung", source.id, source.path, rate, sung, float(doc.bpm), changes,
           round(origin_beat, 6))  # fmt: skip

    def make() -> np.ndarray:
        from studio.voice.voices import world

        pw = world()
        f0, sp, ap, src_rate, peak_in = _world_analysis(source)
        period = WORLD_PERIOD
        start_s = doc.seconds_at(origin_beat)
        frames_in = len(f0)
        # output frame k lies k * period after the take's start under the new tempo; the beat
        # there, at the sung tempo, names the input frame it takes its sound from
        total_beats = frames_in * period / 1000.0 * sung / 60.0
        out_seconds = doc.seconds_at(origin_beat + total_beats) - start_s
        k = np.arange(int(math.ceil(out_seconds * 1000.0 / period)))
        beats = np.array([doc.beat_at(start_s + x * period / 1000.0) for x in k]) - origin_beat
        index = np.clip(np.round(beats * 60.0 / sung * 1000.0 / period).astype(int), 0,
                        frames_in - 1)  # fmt: skip
        audio = pw.synthesize(np.ascontiguousarray(f0[index]), np.ascontiguousarray(sp[index]),
                              np.ascontiguousarray(ap[index]), src_rate, period)  # fmt: skip
        peak_out = float(np.abs(audio).max()) or 1.0
        audio = (audio * (peak_in / peak_out)).astype(np.float32)
        return _stereo(_resample(audio, src_rate, rate))

    return _cached(key, make)


def _midi_of(source: Source, doc: ArrangeDocument, clip: ArrangeClip, rate: int,
             ctx: JobContext) -> np.ndarray:  # fmt: skip
    """The clip's notes (its offset, length and loop applied) rendered at the arrangement's
    tempo map from the clip's start: the audio of exactly the clip, plus the release tail."""
    from studio.core.media import MidiClip, Note

    assert source.midi is not None
    midi = source.midi
    period = max(1e-6, midi.length_beats)
    notes: list[Note] = []
    cursor = 0.0
    offset = clip.offset
    while cursor < clip.length:
        for n in midi.notes:
            start = n.start - offset + cursor
            if n.start < offset or start >= clip.length:
                continue
            duration = min(n.duration, clip.length - start)
            if duration > 1e-6:
                notes.append(Note(start, n.pitch, duration, n.velocity, n.channel))
        if not clip.loop:
            break
        cursor += period - offset
        offset = 0.0
    base = doc.seconds_at(clip.start)
    bpm_at = 60.0 / max(1e-9, doc.seconds_at(clip.start + 1) - base)
    changes = [(b - clip.start, t) for b, t in doc.tempo_changes if b > clip.start]
    key = ("midi", source.id, rate, clip.offset, clip.length, clip.loop, round(bpm_at, 9),
           tuple(changes))  # fmt: skip
    if not notes:
        return np.zeros((0, 2), np.float32)

    def make() -> np.ndarray:
        from studio.music.synth import render

        part = MidiClip(notes=sorted(notes), bpm=bpm_at, beats_per_bar=doc.beats_per_bar,
                        programs=midi.program_map(), length=clip.length,
                        beat_unit=doc.beat_unit, tempo_changes=changes)  # fmt: skip
        audio = render(part, None, rate, None, tail=TAIL_SECONDS, normalize=False,
                       max_seconds=3 * 3600.0)  # fmt: skip
        return _stereo(audio.samples)

    return _cached(key, make)


def _clip_audio(doc: ArrangeDocument, clip: ArrangeClip, source: Source, rate: int,
                ctx: JobContext) -> tuple[int, np.ndarray]:  # fmt: skip
    """(first frame on the timeline, stereo audio) of one clip, faded."""
    start = int(round(doc.seconds_at(clip.start) * rate))
    end = int(round(doc.seconds_at(clip.end) * rate))
    frames = max(0, end - start)
    if source.kind == "midi":
        audio = _midi_of(source, doc, clip, rate, ctx)
        audio = audio[: frames + int(TAIL_SECONDS * rate)].copy()
        body = frames
    else:
        whole = _retimed(source, doc, clip, rate) if source.sung_bpm else _audio_of(source, rate)
        first = int(round(clip.offset * rate))
        if clip.loop and len(whole) > 0:
            period = whole[first:] if first < len(whole) else whole[:0]
            pieces, have = [], 0
            piece = period
            while have < frames and len(piece):
                pieces.append(piece[: frames - have])
                have += len(pieces[-1])
                piece = whole
            audio = np.concatenate(pieces) if pieces else np.zeros((0, 2), np.float32)
        else:
            audio = whole[first : first + frames].copy()
        body = len(audio)
    gain = 10 ** (clip.gain_db / 20.0)
    if gain != 1.0:
        audio *= gain
    fade_in = int(round((doc.seconds_at(clip.start + clip.fade_in) - doc.seconds_at(clip.start))
                        * rate))  # fmt: skip
    fade_out = int(round((doc.seconds_at(clip.end) - doc.seconds_at(clip.end - clip.fade_out))
                         * rate))  # fmt: skip
    if fade_in > 0 and len(audio):
        n = min(fade_in, len(audio))
        audio[:n] *= np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    if fade_out > 0 and body > 0:
        n = min(fade_out, body)
        audio[body - n : body] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
        audio[body:] = 0.0
    return start, audio


# -- effects --------------------------------------------------------------------------------------
# Reverb and delay are sends: each lane sends its signal, scaled by its amount, to one reverb bus
# and one delay bus per delay time, which are processed once and added to the mix. Both effects
# are linear, so this sounds the same as one reverb per lane, for the cost of one. (Stems get
# their own share of each bus, so each stem still carries its lane's reverb and echo.)
REVERB = {"room_size": 0.6, "damping": 0.5, "wet_level": 0.45, "dry_level": 0.0, "width": 1.0}
FEEDBACK = 0.35


def _inserts(effects: Effects, master: bool = False):
    """A pedalboard.Pedalboard of the EQ and compressor (None when there are none), and the
    compressor's make-up gain in dB. The master's reverb is an insert too."""
    import pedalboard as pb

    plugins: list[Any] = []
    makeup = 0.0
    if effects.low_db:
        plugins.append(pb.LowShelfFilter(cutoff_frequency_hz=200, gain_db=effects.low_db))
    if effects.mid_db:
        plugins.append(pb.PeakFilter(cutoff_frequency_hz=1000, gain_db=effects.mid_db, q=0.9))
    if effects.high_db:
        plugins.append(pb.HighShelfFilter(cutoff_frequency_hz=5000, gain_db=effects.high_db))
    if effects.compress > 0:
        amount = min(1.0, effects.compress)
        plugins.append(pb.Compressor(threshold_db=-6 - 24 * amount, ratio=1.5 + 6.5 * amount,
                                     attack_ms=8, release_ms=120))  # fmt: skip
        makeup = 6.0 * amount
    if master and effects.reverb > 0:
        wet = min(1.0, effects.reverb)
        plugins.append(pb.Reverb(**(REVERB | {"wet_level": 0.45 * wet,
                                             "dry_level": 1.0 - 0.35 * wet})))  # fmt: skip
    if master and effects.delay > 0:
        plugins.append(pb.Delay(delay_seconds=0.5, feedback=FEEDBACK, mix=min(1.0, effects.delay)))
    return (pb.Pedalboard(plugins) if plugins else None), makeup


def _apply(board, audio: np.ndarray, rate: int) -> np.ndarray:
    """Run ``board`` over channel-first audio (2 x frames, what pedalboard takes: no
    transposed copies)."""
    if board is None or not audio.shape[-1]:
        return audio
    return np.asarray(board(audio, rate), dtype=np.float32)


def _reverb(audio: np.ndarray, rate: int) -> np.ndarray:
    import pedalboard as pb

    return _apply(pb.Pedalboard([pb.Reverb(**REVERB)]), audio, rate)


def _delay(audio: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    import pedalboard as pb

    delay = pb.Delay(delay_seconds=max(0.01, min(4.0, seconds)), feedback=FEEDBACK, mix=1.0)
    return _apply(pb.Pedalboard([delay]), audio, rate)


def _pan(audio: np.ndarray, pan: float, gain_db: float) -> np.ndarray:
    angle = (max(-1.0, min(1.0, pan)) + 1.0) * math.pi / 4.0  # constant power
    gain = 10 ** (gain_db / 20.0)
    left, right = math.cos(angle) * math.sqrt(2), math.sin(angle) * math.sqrt(2)
    audio[0] *= np.float32(gain * left)
    audio[1] *= np.float32(gain * right)
    return audio


# -- measuring ------------------------------------------------------------------------------------
def integrated_lufs(audio: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770-4) measured with pyloudnorm; -inf for silence
    or audio shorter than one 400 ms block."""
    import pyloudnorm

    if len(audio) < int(0.4 * rate) + 1 or not np.any(audio):
        return float("-inf")
    with np.errstate(divide="ignore"):
        value = pyloudnorm.Meter(rate).integrated_loudness(np.asarray(audio, dtype=np.float32))
    return float(value)


def true_peak_db(audio: np.ndarray, rate: int) -> float:
    """The true peak in dBTP: the peak of the signal oversampled 4x (BS.1770's method; soxr's
    high-quality resampler as the interpolation filter)."""
    if not len(audio):
        return float("-inf")
    import soxr

    up = soxr.resample(np.asarray(audio, dtype=np.float32), rate, rate * 4, quality="HQ")
    peak = max(float(np.abs(up).max()), float(np.abs(audio).max()))
    return 20 * math.log10(peak) if peak > 0 else float("-inf")


def _limit(audio: np.ndarray, rate: int, gain_db: float, ceiling_db: float) -> np.ndarray:
    import pedalboard as pb

    brickwall = pb.BrickwallLimiter(ceiling_db=ceiling_db, release_ms=60.0, lookahead_ms=3.0)
    return pb.Pedalboard([brickwall])(audio * np.float32(10 ** (gain_db / 20.0)), rate)


def _master(audio: np.ndarray, rate: int, target: float | None,
            ceiling: float) -> tuple[np.ndarray, float, float, float]:  # fmt: skip
    """Gain to ``target`` LUFS, pedalboard's look-ahead brick-wall limiter half a dB under
    ``ceiling``, and a last trim so the true peak is at most ``ceiling`` dBTP. When the true
    peak (4x oversampled) still overshoots (dense highs peak between samples), the limiter runs
    again that much lower. Returns the audio, the gain applied before limiting, and the
    loudness and true peak measured."""
    loudness = integrated_lufs(audio.T, rate)
    if target is None or not math.isfinite(loudness):
        return audio, 0.0, loudness, true_peak_db(audio.T, rate)
    gain_db = float(np.clip(target - loudness, -60.0, 40.0))
    margin, lower = 0.5, 0.0
    out, now, peak = audio, loudness, float("inf")
    for _attempt in range(3):
        tried: list[tuple[float, float]] = []  # (gain, loudness after limiting)
        for _ in range(5):  # limiting lowers the loudness: aim again (secant steps)
            out = _limit(audio, rate, gain_db, ceiling - margin - lower)
            now = integrated_lufs(out.T, rate)
            if not math.isfinite(now) or -0.3 <= target - now <= margin - 0.1:
                break
            tried.append((gain_db, now))
            slope = 1.0
            if len(tried) >= 2 and abs(tried[-1][1] - tried[-2][1]) > 1e-3:
                slope = (tried[-1][0] - tried[-2][0]) / (tried[-1][1] - tried[-2][1])
            gain_db = min(60.0, gain_db + (target - now) * float(np.clip(slope, 1.0, 6.0)))
        if math.isfinite(now) and abs(target - now) > 0.05:  # within the margin: a plain trim
            trim = min(target - now, margin - 0.1)
            out = out * np.float32(10 ** (trim / 20.0))
            now += trim
        peak = true_peak_db(out.T, rate)
        if peak <= ceiling:
            break
        lower += peak - ceiling + 0.1
    if peak > ceiling:  # the last resort: lower it all (the loudness then falls short)
        out = out * np.float32(10 ** ((ceiling - 0.02 - peak) / 20.0))
        now += ceiling - 0.02 - peak
        peak = ceiling - 0.02
    return np.asarray(out, dtype=np.float32), gain_db, now, peak


# -- the mix --------------------------------------------------------------------------------------
def render_mix(
    doc: ArrangeDocument,
    ctx: JobContext | None = None,
    *,
    sample_rate: int = MIX_RATE,
    stems: bool = False,
    target_lufs: float | None | str = "document",
    ceiling_db: float = TRUE_PEAK_DB,
    start: float | None = None,
    end: float | None = None,
) -> MixResult:
    """Mix ``doc`` to stereo. ``doc`` is only read: a worker gets a copy of the document
    (``ArrangeDocument(**doc.values())``, cheap since the values are immutable).

    ``target_lufs``: the loudness to master to ("document": the document's, None: no mastering).
    ``start``/``end``: beats of a region (the loop region) instead of the whole timeline.
    ``stems``: keep each audible lane's signal (its effects, fader and pan, and the master's
    gain; not the master's effects and limiter).

    Lanes whose file is missing or unreadable play silence with a line in ``messages``. Raises
    ValueError when nothing is on the timeline, Cancelled from ``ctx``.
    """
    ctx = ctx or JobContext()
    if target_lufs == "document":
        target_lufs = doc.target_lufs
    rate = int(sample_rate)
    audio_lanes = [lane for lane in doc.lanes if lane.kind != "video"]
    if not any(doc.lane_clips(lane.id) for lane in audio_lanes):
        raise ValueError("there is nothing to mix: add music, a take or an audio file first")
    first = 0.0 if start is None else doc.seconds_at(start)
    last = doc.seconds if end is None else doc.seconds_at(end)
    if last - first > MAX_MIX_MINUTES * 60:
        length = last - first
        raise ValueError(
            f"the arrangement lasts {int(length // 3600)}:{int(length % 3600 // 60):02d}:"
            f"{int(length % 60):02d}; a mix is made in memory and stops at "
            f"{MAX_MIX_MINUTES:g} minutes: set a loop region and export it in parts"
        )
    tail = TAIL_SECONDS if end is None else 0.0
    a = int(round(first * rate))
    total = max(1, int(round((last + tail) * rate)) - a)
    mix = np.zeros((2, total), np.float32)  # channel-first while mixing
    reverb_bus: np.ndarray | None = None
    delay_buses: dict[float, np.ndarray] = {}
    result = MixResult(mix, rate)
    sources = {s.id: s for s in doc.sources}
    for done, lane in enumerate(audio_lanes):
        ctx.check_cancelled()
        ctx.progress(0.8 * done / max(1, len(audio_lanes)), f"mixing {lane.name}")
        if not doc.audible(lane):
            continue
        buffer = _lane_audio(doc, lane, sources, rate, a, total, ctx, result.messages)
        if buffer is None:
            continue
        board, makeup = _inserts(lane.effects)
        buffer = _pan(_apply(board, buffer, rate), lane.pan, lane.gain_db + makeup)
        fx = lane.effects
        delay_s = fx.delay_beats * 60.0 / doc.bpm
        if stems:  # the lane's own share of the sends, so its stem holds its reverb and echo
            stem = buffer.copy()
            if fx.reverb > 0:
                stem += _reverb(buffer * np.float32(min(1.0, fx.reverb)), rate)
            if fx.delay > 0:
                stem += _delay(buffer * np.float32(min(1.0, fx.delay)), rate, delay_s)
            mix += stem
            result.stems[lane.id] = stem
            result.stem_names[lane.id] = lane.name
        else:
            mix += buffer
            if fx.reverb > 0:
                if reverb_bus is None:
                    reverb_bus = np.zeros_like(mix)
                reverb_bus += buffer * np.float32(min(1.0, fx.reverb))
            if fx.delay > 0:
                bus = delay_buses.setdefault(round(delay_s, 6), np.zeros_like(mix))
                bus += buffer * np.float32(min(1.0, fx.delay))
        peak = float(np.abs(buffer).max()) if buffer.size else 0.0
        result.lane_peaks[lane.id] = 20 * math.log10(peak) if peak > 0 else float("-inf")
    ctx.progress(0.82, "reverb and delay")
    if reverb_bus is not None:
        mix += _reverb(reverb_bus, rate)
    for seconds, bus in delay_buses.items():
        mix += _delay(bus, rate, seconds)
    ctx.progress(0.86, "master")
    board, makeup = _inserts(doc.master_effects, master=True)
    mix = _apply(board, mix, rate)
    mix *= np.float32(10 ** ((doc.master_gain_db + makeup) / 20.0))
    ctx.check_cancelled()
    ctx.progress(0.9, "mastering")
    mastered, gain_db, loudness, peak = _master(mix, rate, target_lufs, ceiling_db)
    scale = np.float32(10 ** ((gain_db + doc.master_gain_db) / 20.0))
    for lane_id in list(result.stems):
        result.stems[lane_id] = np.ascontiguousarray(np.clip(result.stems[lane_id] * scale,
                                                             -1.0, 1.0).T)  # fmt: skip
    result.audio = np.ascontiguousarray(mastered.T)
    result.gain_db = gain_db
    result.loudness = loudness
    result.true_peak = peak
    result.provenance = {
        "engine": "studio.arrange", "lanes": len(doc.lanes), "clips": len(doc.clips),
        "bpm": doc.bpm, "target_lufs": target_lufs, "loudness_lufs": round(result.loudness, 2),
        "true_peak_dbtp": round(result.true_peak, 2), "sample_rate": rate,
        "sources": [s.name for s in doc.sources],
    }  # fmt: skip
    ctx.progress(1.0, f"mixed {result.seconds:.1f} s at {result.loudness:.1f} LUFS")
    return result


def _lane_audio(doc: ArrangeDocument, lane: Lane, sources: dict[str, Source], rate: int,
                origin: int, total: int, ctx: JobContext,
                messages: list[str]) -> np.ndarray | None:  # fmt: skip
    clips = doc.lane_clips(lane.id)
    if not clips:
        return None
    buffer = np.zeros((2, total), np.float32)
    index = doc.lane_index(lane.id) + 1
    for clip in clips:
        source = sources.get(clip.source)
        if source is None:
            continue
        try:
            at, audio = _clip_audio(doc, clip, source, rate, ctx)
        except (OSError, ValueError, RuntimeError) as exc:
            line = f"lane {index} ({lane.name}): {exc}; it stays silent"
            if line not in messages:
                messages.append(line)
            continue
        at -= origin
        lo, hi = max(0, at), min(total, at + len(audio))
        if hi > lo:
            buffer[:, lo:hi] += audio[lo - at : hi - at].T
    return buffer
