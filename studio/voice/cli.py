"""``studio voice ...``: say, sing, voices."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from studio.core.terminal import printable

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    voice = sub.add_parser("voice", help="speak text and sing melodies")
    vs = voice.add_subparsers(dest="voice_command", metavar="ACTION", required=True)
    say = vs.add_parser("say", help="speak text (plain or SSML) to a WAV, FLAC or OGG file")
    say.add_argument("text", nargs="?", help="the text (or use -f FILE; - reads stdin)")
    say.add_argument("-f", "--file", help="read the text from this file")
    say.add_argument("-o", "--output", required=True, help=".wav, .flac or .ogg")
    say.add_argument("--voice", default="", help="voice id, name or language (see `voices`)")
    say.add_argument("--rate", type=float, default=1.0, help="speed, 0.25..4 (default 1)")
    say.add_argument("--pitch", type=float, default=0.0, help="semitones, -12..12")
    say.add_argument("--volume", type=float, default=1.0, help="gain, 0..2")
    say.add_argument("--pause", type=float, default=0.3, help="seconds after each sentence")
    say.add_argument("--variation", type=float, default=1.0, help="Piper only: 0 even .. 2 lively")
    say.add_argument("--ssml", action="store_true", help="the text is SSML (auto when <speak>)")
    sing = vs.add_parser("sing", help="sing a MIDI melody with lyrics")
    sing.add_argument("midi", help="a .mid file (one track is sung)")
    sing.add_argument("--lyrics", default="", help='e.g. "hap-py birth-day to you"; _ holds')
    sing.add_argument("--lyrics-file", help="read the lyrics from this file")
    sing.add_argument("-o", "--output", required=True, help=".wav, .flac or .ogg")
    sing.add_argument("--track", type=int, help="MIDI channel to sing, 1-16 (default: first)")
    sing.add_argument("--voice", default="", help="a Piper voice (default) or an eSpeak one")
    sing.add_argument("--vibrato", type=float, default=30.0, help="vibrato depth in cents")
    sing.add_argument("--vibrato-rate", type=float, default=5.5, help="Hz")
    sing.add_argument("--glide", type=float, default=0.06, help="seconds between notes")
    sing.add_argument("--transpose", type=int, default=0, help="semitones")
    sing.add_argument(
        "--with-accompaniment", action="store_true", help="mix the other tracks under the voice"
    )
    voices = vs.add_parser("voices", help="list the voices with language, quality and licence")
    voices.add_argument("--json", action="store_true")
    voices.add_argument("--engine", choices=("piper", "espeak"), help="only this engine")


def midi_lyrics(events: list[tuple[float, str]]) -> str:
    """The lyric events of a MIDI file as lyrics for ``sing``: one event a syllable, a trailing
    hyphen joining it to the next (the MIDI lyric convention, as in "hap-" "py"), karaoke line
    marks (``/``, ``\\``) dropped."""
    words = " ".join(text.strip().strip("/\\").strip() for _, text in events)
    return re.sub(r"-\s+", "-", " ".join(words.split()))


def run(args) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.core.models import ModelStore
    from studio.voice.speech import AudioWriter, SpeakerCache, SpeechSettings, speak

    cmd = args.voice_command
    cache = SpeakerCache(ModelStore.from_settings())
    if cmd == "voices":
        voices = cache.voices()
        if args.engine:
            voices = [v for v in voices if v.engine == args.engine]
        if args.json:
            import json

            rows = [
                {**v.__dict__, "path": str(v.path) if v.path else None, "label": v.label}
                for v in voices
            ]
            json.dump(rows, sys.stdout, indent=2)
            print()
            return 0
        for v in voices:
            print(
                printable(
                    f"{v.id:34} {v.language:10} {v.quality:26} {v.sample_rate:>6} Hz  {v.licence}"
                )
            )
            if v.restriction:
                print(f"{'':34} ⚠ {v.restriction}")
        for problem in cache.problems:
            print(f"⚠ {problem}")
        return 0
    if cmd == "say":
        if args.file:
            try:
                text = Path(args.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read {args.file}: {exc}") from exc
        elif args.text == "-":
            try:
                text = sys.stdin.buffer.read().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"the text on stdin is not UTF-8 (byte {exc.start} is "
                    f"{exc.object[exc.start]:#x})"
                ) from None
        elif args.text is not None:
            text = args.text
        else:
            raise ValueError("give the text, -f FILE, or - to read stdin")
        if not text.strip():
            raise ValueError("the text is empty: nothing to say")
        settings = SpeechSettings(
            voice=args.voice or SpeechSettings.voice,
            rate=args.rate,
            pitch=args.pitch,
            volume=args.volume,
            sentence_pause=args.pause,
            variation=args.variation,
            ssml=True if args.ssml else None,
        ).check()
        speaker = cache.get(settings.voice)
        from dataclasses import asdict

        with AudioWriter(
            args.output, speaker.sample_rate, text=text, settings=asdict(settings)
        ) as writer:
            result = speak(
                text, settings, ConsoleContext(), cache=cache, sink=writer, keep_seconds=0
            )
        for warning in result.warnings:
            print(printable(f"⚠ {warning}"), file=sys.stderr)
        print(
            printable(
                f"{args.output}: {result.duration:.1f} s, {len(result.marks)} sentences, "
                f"voice {', '.join(result.voices_used)}"
            )
        )
        return 0
    if cmd == "sing":
        from studio.core.media import MidiClip
        from studio.voice.sing import SingSettings, sing_clip

        try:
            clip = MidiClip.load(args.midi)
        except (OSError, ValueError, EOFError) as exc:
            raise ValueError(f"cannot read {args.midi} as MIDI: {exc}") from exc
        lyrics = args.lyrics
        if args.lyrics_file:
            lyrics = Path(args.lyrics_file).read_text(encoding="utf-8")
        if not lyrics.strip() and clip.lyrics:
            lyrics = midi_lyrics(clip.lyrics)
            print(
                printable(f"singing the lyrics in {Path(args.midi).name}: {lyrics[:60]}"),
                file=sys.stderr,
            )
        settings = SingSettings(
            voice=args.voice,
            vibrato_depth=args.vibrato,
            vibrato_rate=args.vibrato_rate,
            glide=args.glide,
            transpose=args.transpose,
        ).check()
        track = None if args.track is None else args.track - 1
        result = sing_clip(
            clip,
            lyrics,
            settings,
            ConsoleContext(),
            track=track,
            accompaniment=args.with_accompaniment,
            cache=cache,
        )
        for message in result.messages:
            print(printable(f"⚠ {message}"), file=sys.stderr)
        audio = result.audio
        with AudioWriter(
            args.output,
            audio.sample_rate,
            audio.channels,
            text=lyrics,
            settings=audio.provenance,
            title=f"Sung: {Path(args.midi).stem}",
        ) as writer:
            writer.write(audio.samples)
        shown = " ".join(n.syllable for n in result.notes[:12])
        more = " …" if len(result.notes) > 12 else ""
        print(
            printable(
                f"{args.output}: {audio.duration:.1f} s, {len(result.notes)} notes ({shown}{more})"
            )
        )
        return 0
    raise ValueError(f"unknown voice command {cmd}")
