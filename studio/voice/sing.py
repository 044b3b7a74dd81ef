"""Singing: a monophonic melody plus lyrics, sung by a speech voice re-shaped with WORLD.

Lyrics rules (stated in the README and the panel):

* Words are separated by spaces. A hyphen splits a word into syllables you choose (``hap-py``);
  otherwise a word is split where its phonemes have vowels (``birthday`` -> two syllables).
* ``_`` on its own holds the previous syllable over the next note (a melisma); ``__`` over two.
* Syllables go to notes in order. Extra syllables (more than notes) are not sung; notes left
  without a syllable are sung on "la". Both cases are reported.

Each syllable is spoken once by the voice, analysed with WORLD (pyworld: F0, spectral envelope,
aperiodicity), and laid on the note: the consonants before the vowel come just before the note's
start (as a singer does), the vowel is stretched to the note's length, and the pitch follows the
note with vibrato and a glide between notes. One WORLD synthesis makes the whole line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import AudioClip, MidiClip, Note
from studio.plugins.api import Param

__all__ = [
    "SING_PARAMS",
    "SingSettings",
    "Syllable",
    "SungNote",
    "SongResult",
    "melody_from_clip",
    "split_lyrics",
    "assign",
    "sing",
    "FRAME",
]

FRAME = 0.005  # WORLD frame period, seconds
_VOWELS = set("aeiouyæɐɑɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏ")
_MARKS = set("ˈˌ")


# The singing controls as data: their ranges check SingSettings and shape the panel's controls.
SING_PARAMS = (
    Param("vibrato_depth", "float", 30.0, help="cents", minimum=0.0, maximum=200.0, step=5.0),
    Param("vibrato_rate", "float", 5.5, help="Hz", minimum=0.0, maximum=12.0, step=0.5),
    Param(
        "vibrato_delay", "float", 0.3, help="seconds into a note", minimum=0.0, maximum=5.0,
        step=0.05,
    ),
    Param("glide", "float", 0.06, help="seconds", minimum=0.0, maximum=0.5, step=0.01),
    Param("transpose", "int", 0, help="semitones", minimum=-24, maximum=24),
    Param("volume", "float", 1.0, minimum=0.0, maximum=2.0, step=0.05),
)  # fmt: skip


@dataclass
class SingSettings:
    voice: str = ""  # empty: the default voice
    vibrato_depth: float = 30.0  # cents
    vibrato_rate: float = 5.5  # Hz
    vibrato_delay: float = 0.3  # seconds into a note before vibrato starts
    glide: float = 0.06  # seconds of pitch glide between notes
    transpose: int = 0  # semitones (bring a melody into the voice's range)
    volume: float = 1.0

    def check(self) -> SingSettings:
        """Raise ValueError naming a setting that is out of range."""
        from studio.voice.speech import check_ranges

        check_ranges(self, SING_PARAMS)
        return self


@dataclass
class Syllable:
    text: str  # what is shown under the note
    phonemes: str | None = None  # IPA for Piper voices
    hold: int = 0  # extra notes it is held over (melisma)


@dataclass
class SungNote:
    note: Note
    start: float  # seconds
    end: float
    syllable: str  # the label under the note ("_" for a held one)
    continues: bool = False  # part of a melisma


@dataclass
class SongResult:
    audio: AudioClip
    notes: list[SungNote]
    messages: list[str] = field(default_factory=list)


def melody_from_clip(clip: MidiClip, track: int | None = None) -> tuple[list[Note], list[str]]:
    """The notes of one track (a MIDI channel; None: the first channel with notes), made
    monophonic: where notes overlap the highest one is kept. Returns (notes, messages).

    Raises ValueError when the clip (or that track) has no notes.
    """
    channels = sorted({n.channel for n in clip.notes})
    if not channels:
        raise ValueError("the melody has no notes")
    channel = channels[0] if track is None else track
    if channel not in channels:
        raise ValueError(f"track {track} has no notes (tracks with notes: {channels})")
    notes = sorted(
        (n for n in clip.notes if n.channel == channel), key=lambda n: (n.start, -n.pitch)
    )
    messages: list[str] = []
    mono: list[Note] = []
    dropped = 0
    for n in notes:
        if mono and n.start < mono[-1].start + 1e-6:
            dropped += 1  # a chord note under the top one
            continue
        if mono and n.start < mono[-1].end:
            prev = mono[-1]
            mono[-1] = Note(
                prev.start, prev.pitch, n.start - prev.start, prev.velocity, prev.channel
            )
        mono.append(n)
    if dropped:
        messages.append(f"the track has chords: sang the top note, left out {dropped} under it")
    return mono, messages


def _nuclei_split(phonemes: list[str], parts: int | None) -> list[str]:
    """Cut one word's IPA into syllables at its vowels (``parts``: wanted count, None: one per
    vowel group). Between two vowels one consonant starts the next syllable; more are shared."""
    symbols = [p for p in phonemes if p.strip() and p not in ",.;:!?"]
    groups: list[tuple[int, int]] = []  # vowel runs (start, end)
    i = 0
    while i < len(symbols):
        if symbols[i] in _VOWELS:
            j = i
            while j + 1 < len(symbols) and (symbols[j + 1] in _VOWELS or symbols[j + 1] == "ː"):
                j += 1
            groups.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    if len(groups) <= 1 or parts == 1:
        return ["".join(symbols)] if symbols else []
    if parts is not None and parts < len(groups):
        # merge vowel groups evenly into the wanted number of syllables
        size = len(groups) / parts
        merged = []
        for k in range(parts):
            a, b = int(round(k * size)), int(round((k + 1) * size))
            merged.append((groups[a][0], groups[b - 1][1]))
        groups = merged
    cuts = [0]
    for (_, end), (start, _) in zip(groups, groups[1:], strict=False):
        between = list(range(end, start))
        consonants = [k for k in between if symbols[k] not in _MARKS]
        if not consonants:
            cut = start
            while cut > end and symbols[cut - 1] in _MARKS:
                cut -= 1
        else:
            cut = consonants[-1] if len(consonants) <= 2 else consonants[1]
            while cut > end and symbols[cut - 1] in _MARKS:
                cut -= 1
        cuts.append(cut)
    cuts.append(len(symbols))
    return ["".join(symbols[a:b]) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def split_lyrics(lyrics: str, phonemize=None) -> list[Syllable]:
    """Split lyrics into syllables (see the module docstring for the rules). ``phonemize(text)``
    returns IPA symbols for a word (a Piper voice's); without it, words split only at hyphens."""
    out: list[Syllable] = []
    for token in lyrics.split():
        if re.fullmatch(r"_+", token):
            if out:
                out[-1].hold += len(token)
            else:
                out.append(Syllable("la", hold=len(token) - 1))
            continue
        parts = [p.strip(',.;:!?"()') for p in token.split("-")]
        parts = [p for p in parts if p]
        if not parts:
            continue
        if phonemize is None:
            out.extend(Syllable(p) for p in parts)
            continue
        if len(parts) > 1:
            for part in parts:
                ipa = _nuclei_split(phonemize(part), 1)
                out.append(Syllable(part, ipa[0] if ipa else None))
            continue
        word = parts[0]
        ipa = _nuclei_split(phonemize(word), None)
        if len(ipa) <= 1:
            out.append(Syllable(word, ipa[0] if ipa else None))
            continue
        labels = _labels(word, len(ipa))
        out.extend(Syllable(label, sym) for label, sym in zip(labels, ipa, strict=True))
    return out


def _labels(word: str, count: int) -> list[str]:
    """Readable pieces of ``word`` for ``count`` syllables: hyphenation when it agrees, else the
    word on the first note and a continuation mark after."""
    try:
        import pyphen

        pieces = pyphen.Pyphen(lang="en_US", left=1, right=2).inserted(word).split("-")
    except (ImportError, KeyError):
        pieces = [word]
    if len(pieces) == count:
        return pieces
    return [word] + ["–"] * (count - 1)


def assign(syllables: list[Syllable], notes: list[Note]) -> tuple[list[tuple[int, int]], list[str]]:
    """Which syllable each note sings: a list of (syllable index, hold position) per note, with
    -1 for "la". Returns (plan, messages) following the stated rules."""
    plan: list[tuple[int, int]] = []
    s = 0
    while len(plan) < len(notes) and s < len(syllables):
        for k in range(syllables[s].hold + 1):
            if len(plan) < len(notes):
                plan.append((s, k))
        s += 1
    messages = []
    if s < len(syllables):
        extra = " ".join(x.text for x in syllables[s:])
        messages.append(
            f"{len(syllables) - s} syllables more than notes were not sung: {extra[:80]}"
        )
    if len(plan) < len(notes):
        missing = len(notes) - len(plan)
        if syllables:
            messages.append(f"{missing} notes have no syllable: sung on 'la'")
        plan.extend((-1, 0) for _ in range(missing))
    return plan, messages


@dataclass
class _Unit:
    """One syllable's WORLD analysis, split into lead consonants, body and tail."""

    sp: np.ndarray
    ap: np.ndarray
    lead: int  # frames before the first voiced frame
    tail: int  # frames after the last voiced frame
    level: float


def _analyse(audio: np.ndarray, rate: int) -> _Unit | None:
    """WORLD analysis of one spoken syllable. The vowel is found by loudness (within 12 dB of the
    loudest frame), not by voicing: a pitch tracker misses short low syllables. Frames of the
    vowel where the tracker found no pitch get the syllable's median pitch, so WORLD treats
    them as voiced (otherwise they come out whispered)."""
    from studio.voice.voices import world

    pw = world()
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    if len(loud) == 0:
        return None
    pad = int(0.01 * rate)
    x = audio[max(0, loud[0] - pad) : loud[-1] + pad].astype(np.float64)
    hop = int(FRAME * rate)
    f0, times = pw.harvest(x, rate, frame_period=FRAME * 1000, f0_floor=60.0, f0_ceil=800.0)
    n = len(f0)
    rms = np.array([np.sqrt(np.mean(x[i * hop : (i + 1) * hop] ** 2) + 1e-12) for i in range(n)])
    strong = np.flatnonzero(rms > rms.max() * 0.25)
    if len(strong) < 3:
        return None
    first, last = int(strong[0]), int(strong[-1])
    # a loud fricative (the s of "sing") is not the vowel: start at the first loud voiced frame
    voiced_strong = strong[f0[strong] > 0]
    if len(voiced_strong) >= 3:
        first, last = int(voiced_strong[0]), int(voiced_strong[-1])
    voiced = f0[first : last + 1][f0[first : last + 1] > 0]
    fill = float(np.median(voiced)) if len(voiced) else 110.0
    f0 = f0.copy()
    body = f0[first : last + 1]
    body[body <= 0] = fill
    sp = pw.cheaptrick(x, f0, times, rate)
    ap = pw.d4c(x, f0, times, rate)
    level = float(np.sqrt(np.mean(sp[first : last + 1].sum(axis=1)))) or 1.0
    return _Unit(sp, ap, first, n - 1 - last, level)


def _stretch(values: np.ndarray, length: int, keep: int) -> np.ndarray:
    """Frames of ``values`` resampled to ``length``: ``keep`` frames at each end stay as they are
    (the consonant transitions), the middle (the vowel) is stretched or shrunk."""
    n = len(values)
    if length <= 0:
        return values[:0]
    keep = min(keep, n // 3, length // 3)
    middle = length - 2 * keep
    inner = np.linspace(keep, n - keep - 1, middle) if middle > 0 else np.array([], dtype=float)
    index = np.concatenate([np.arange(keep), np.round(inner), np.arange(n - keep, n)])
    return values[index.astype(int).clip(0, n - 1)]


def sing(
    notes: list[Note],
    bpm: float,
    lyrics: str,
    settings: SingSettings,
    ctx: JobContext,
    *,
    cache=None,
    tempo_clip: MidiClip | None = None,
) -> SongResult:
    """Sing ``notes`` (monophonic, in beats at ``bpm``; ``tempo_clip`` gives tempo changes) with
    ``lyrics``. Returns the audio (the voice's sample rate), each note with its syllable, and
    the messages about the lyrics. Raises ValueError for no notes, VoiceUnavailable, Cancelled.
    """
    from studio.voice.speech import SpeakerCache
    from studio.voice.voices import world

    settings.check()
    if not notes:
        raise ValueError("the melody has no notes")
    cache = cache or SpeakerCache()
    speaker = cache.get(settings.voice or None)
    rate = speaker.sample_rate
    ctx.progress(0.0, "splitting lyrics")
    phonemize = speaker.phonemes if speaker.speaks_phonemes else None
    syllables = split_lyrics(lyrics, phonemize)
    plan, messages = assign(syllables, notes)

    def seconds(beat: float) -> float:
        if tempo_clip is not None:
            return float(tempo_clip.seconds_at(beat))
        return beat * 60.0 / bpm

    sung: list[SungNote] = []
    for note, (s, k) in zip(notes, plan, strict=True):
        label = "la" if s < 0 else ("_" if k else syllables[s].text)
        sung.append(SungNote(note, seconds(note.start), seconds(note.end), label, k > 0))

    # Speak each distinct syllable once.
    units: dict[int, _Unit | None] = {}
    cached: dict[str, _Unit | None] = {}
    wanted = sorted({s for s, _ in plan})
    for done, s in enumerate(wanted):
        ctx.check_cancelled()
        syl = syllables[s] if s >= 0 else Syllable("la", "lˈɑː" if phonemize else None)
        key = syl.phonemes or syl.text
        if key not in cached:
            text = f"[[{syl.phonemes}]]" if syl.phonemes else syl.text
            # no noise: the same lyrics and notes always give the same song
            audio = speaker.synthesize(text, variation=0.0)
            cached[key] = _analyse(audio, rate)
        units[s] = cached[key]
        ctx.progress(0.7 * (done + 1) / len(wanted), f"syllable {done + 1} of {len(wanted)}")

    # Lay the frames on the timeline.
    end_time = sung[-1].end + 0.3
    n_frames = int(math.ceil(end_time / FRAME)) + 1
    size = next((u.sp.shape[1] for u in units.values() if u is not None), None)
    if size is None:
        raise ValueError("the voice produced no voiced sound for these lyrics")
    sp = np.full((n_frames, size), 1e-12)
    ap = np.ones((n_frames, size))
    target = np.full(n_frames, np.nan)  # MIDI pitch per frame (nan: unvoiced)
    reference = float(np.median([u.level for u in units.values() if u is not None]))

    # group notes into syllable spans: (first note, last note, unit)
    spans: list[tuple[int, int, int]] = []
    for i, (s, k) in enumerate(plan):
        if k == 0 or not spans or spans[-1][2] != s:
            spans.append((i, i, s))
        else:
            spans[-1] = (spans[-1][0], i, s)
    for index, (first, last, s) in enumerate(spans):
        ctx.check_cancelled()
        unit = units.get(s)
        if unit is None:
            continue
        start_f = int(round(sung[first].start / FRAME))
        end_f = int(round(sung[last].end / FRAME))
        nxt = spans[index + 1] if index + 1 < len(spans) else None
        if nxt is not None and units.get(nxt[2]) is not None:
            next_start = int(round(sung[nxt[0]].start / FRAME))
            if next_start - end_f < 4:  # legato: leave room for the next syllable's consonants
                end_f = min(end_f, next_start - units[nxt[2]].lead)  # type: ignore[union-attr]
        lead = min(unit.lead, start_f)
        length = end_f - start_f
        tail = min(unit.tail, max(0, length // 3))
        body_len = max(4, length - tail)
        voiced_sp = unit.sp[unit.lead : len(unit.sp) - unit.tail]
        voiced_ap = unit.ap[unit.lead : len(unit.ap) - unit.tail]
        gain = (reference / unit.level) ** 2 * (sung[first].note.velocity / 100.0) ** 2
        pieces_sp = [
            unit.sp[unit.lead - lead : unit.lead],
            _stretch(voiced_sp, body_len, keep=6),
            unit.sp[len(unit.sp) - unit.tail : len(unit.sp) - unit.tail + tail],
        ]
        pieces_ap = [
            unit.ap[unit.lead - lead : unit.lead],
            _stretch(voiced_ap, body_len, keep=6),
            unit.ap[len(unit.ap) - unit.tail : len(unit.ap) - unit.tail + tail],
        ]
        block_sp = np.concatenate(pieces_sp) * gain
        block_ap = np.concatenate(pieces_ap)
        a = start_f - lead
        b = min(n_frames, a + len(block_sp))
        sp[a:b] = block_sp[: b - a]
        ap[a:b] = block_ap[: b - a]
        v0, v1 = start_f, min(n_frames, start_f + body_len)
        for j in range(first, last + 1):
            n0 = max(v0, int(round(sung[j].start / FRAME)))
            n1 = v1 if j == last else min(v1, int(round(sung[j].end / FRAME)))
            target[n0:n1] = sung[j].note.pitch + settings.transpose

    f0 = _contour(target, sung, settings)
    ctx.progress(0.8, "synthesizing")
    ctx.check_cancelled()
    pw = world()
    audio = pw.synthesize(f0, sp, ap, rate, FRAME * 1000).astype(np.float32)
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = np.clip(audio * (0.8 / peak) * settings.volume, -1.0, 1.0)
    ctx.progress(1.0, "done")
    provenance = {
        "engine": "voice.sing",
        "voice": speaker.info.id,
        "lyrics": lyrics[:2000],
        "vibrato_depth": settings.vibrato_depth,
        "vibrato_rate": settings.vibrato_rate,
        "glide": settings.glide,
        "transpose": settings.transpose,
    }
    return SongResult(AudioClip(audio, rate, provenance=provenance), sung, messages)


def _contour(target: np.ndarray, sung: list[SungNote], settings: SingSettings) -> np.ndarray:
    """F0 in Hz per frame: the note pitches, glides of ``glide`` seconds across each change
    (centred on the boundary), and vibrato that fades in after ``vibrato_delay``."""
    cents = target * 100.0
    voiced = ~np.isnan(target)
    glide = int(round(settings.glide / FRAME))
    if glide >= 2:
        change = np.flatnonzero(voiced[1:] & voiced[:-1] & (np.diff(np.nan_to_num(target)) != 0))
        for c in change:
            a, b = max(0, c + 1 - glide // 2), min(len(cents), c + 1 + glide // 2)
            if voiced[a:b].all():
                cents[a:b] = np.linspace(cents[a], cents[b - 1], b - a)
    if settings.vibrato_depth > 0:
        t = np.arange(len(cents)) * FRAME
        for note in sung:
            a, b = int(round(note.start / FRAME)), int(round(note.end / FRAME))
            onset = note.start + settings.vibrato_delay
            ramp = np.clip((t[a:b] - onset) / 0.15, 0.0, 1.0)
            wave = np.sin(2 * math.pi * settings.vibrato_rate * (t[a:b] - onset))
            cents[a:b] += settings.vibrato_depth * ramp * wave
    hz = 440.0 * 2 ** ((cents / 100.0 - 69) / 12.0)
    return np.where(voiced, hz, 0.0)


def sing_clip(
    clip: MidiClip,
    lyrics: str,
    settings: SingSettings,
    ctx: JobContext,
    *,
    track: int | None = None,
    accompaniment: bool = False,
    soundfont=None,
    cache=None,
) -> SongResult:
    """Sing one track of ``clip`` (a MIDI channel; None: the first with notes). With
    ``accompaniment`` the other tracks are rendered with the SoundFont and mixed under the voice
    (44.1 kHz stereo). Raises ValueError, VoiceUnavailable, SynthUnavailable, Cancelled."""
    notes, messages = melody_from_clip(clip, track)
    result = sing(notes, clip.bpm, lyrics, settings, ctx, cache=cache, tempo_clip=clip)
    result.messages[:0] = messages
    if not accompaniment:
        return result
    channel = notes[0].channel
    others = [n for n in clip.notes if n.channel != channel]
    if not others:
        result.messages.append("the clip has no other tracks to accompany the voice")
        return result
    import copy

    from studio.music.synth import render
    from studio.voice.speech import resample

    backing = copy.copy(clip)
    backing.notes = others
    band = render(backing, soundfont, 44100, None, normalize=True)
    voice = resample(result.audio.samples, result.audio.sample_rate, 44100)
    frames = max(len(band.samples), len(voice))
    mix = np.zeros((frames, 2), dtype=np.float32)
    mix[: len(band.samples)] += band.samples * 0.55
    mix[: len(voice)] += voice[:, None] * 0.9
    peak = float(np.max(np.abs(mix))) or 1.0
    if peak > 0.99:
        mix *= 0.99 / peak
    provenance = {**result.audio.provenance, "accompaniment": True}
    result.audio = AudioClip(mix, 44100, provenance=provenance)
    return result
