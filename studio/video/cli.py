"""``studio video ...``: segment, demo, cameras."""

from __future__ import annotations

import sys

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    video = sub.add_parser("video", help="cut people out of video: segment, demo clip")
    vs = video.add_subparsers(dest="video_command", metavar="ACTION", required=True)
    seg = vs.add_parser(
        "segment",
        help="run a video, image sequence or the demo through segmentation and an effect",
        description=(
            "Writes OUT through the same pipeline as the Video panel. OUT is a video (.mp4, "
            ".mkv, .mov, .avi; H.264 with the source's sound when ffmpeg is installed) or a "
            "folder for a PNG sequence (RGBA with --effect alpha). The source is never changed."
        ),
    )
    seg.add_argument("input", help="a video file, a folder or glob of images, or 'demo'")
    seg.add_argument("-o", "--output", required=True, help="a video file or a folder (PNGs)")
    seg.add_argument(
        "--effect",
        default="blur",
        help="blur[:STRENGTH] | color:#RRGGBB | green | image:PATH | video:PATH | matte | "
        "alpha | none (default blur)",
    )
    seg.add_argument(
        "--engine",
        default="selfie",
        help="selfie (MediaPipe, default) | mog2 (still camera, no model) | PATH to a Robust "
        "Video Matting .torchscript file | a video_mask plugin id",
    )
    # defaults and ranges come from studio.video.refine.REFINE_PARAMS when the command runs
    # (importing it here would load numpy for every `studio --help`)
    seg.add_argument("--smooth", type=float, help="temporal smoothing, 0..0.98 (default 0.6)")
    seg.add_argument("--threshold", type=float, help="0 soft matte (default), else the cut 0..1")
    seg.add_argument("--feather", type=float, help="edge softness in pixels (default 1.5)")
    seg.add_argument("--grow", type=float, help="pixels; negative shrinks (default 0)")
    seg.add_argument(
        "--device", default="auto", help="auto (the GPU when there is one), cpu or cuda"
    )
    seg.add_argument("--format", choices=("auto", "video", "png"), default="auto")
    seg.add_argument("--no-audio", action="store_true", help="leave the source's sound out")
    seg.add_argument("--frames", type=int, help="stop after this many frames")
    demo = vs.add_parser("demo", help="write the demo clip (a photo of a person, a moving camera)")
    demo.add_argument("-o", "--output", required=True, help=".mp4, .mkv, .mov or .avi")
    demo.add_argument("--seconds", type=float, default=5.0)
    demo.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    demo.add_argument("--fps", type=float, default=30.0)
    demo.add_argument(
        "--motion",
        choices=("pan", "jitter", "still"),
        default="pan",
        help="pan: a drifting camera; jitter: a locked-off shot with a slight shake",
    )
    vs.add_parser("cameras", help="list the cameras that open")


def _size(text: str) -> tuple[int, int]:
    from studio.core.media import parse_size

    return parse_size(text, 8192)


def run(args) -> int:
    from studio.core.jobs import ConsoleContext

    cmd = args.video_command
    if cmd == "cameras":
        from studio.video.sources import list_cameras

        found = list_cameras()
        if not found:
            print("no camera found (use a file, an image folder or 'demo')")
        for index in found:
            print(f"camera:{index}")
        return 0
    if cmd == "demo":
        from studio.video.export import write_demo

        width, height = _size(args.size)
        result = write_demo(
            args.output, args.seconds, width, height, args.fps, args.motion, ConsoleContext()
        )
        for warning in result.warnings:
            print(f"⚠ {warning}", file=sys.stderr)
        print(f"{result.path}: {result.frames} frames, {width}x{height}, {result.encoder}")
        return 0
    if cmd == "segment":
        from studio.video.export import export_video
        from studio.video.pipeline import VideoSettings
        from studio.video.refine import REFINE_PARAMS, RefineSettings

        registry = None
        if "/" in args.engine and not args.engine.endswith((".torchscript", ".pt", ".pth")):
            from studio.plugins.registry import PluginRegistry

            registry = PluginRegistry()
            registry.discover()
        settings = VideoSettings(
            engine=args.engine,
            effect=args.effect,
            refine=RefineSettings(
                **{
                    p.name: getattr(args, p.name)
                    for p in REFINE_PARAMS
                    if getattr(args, p.name) is not None
                }
            ),
            device=args.device,
        )
        result = export_video(
            args.input,
            args.output,
            settings,
            ConsoleContext(),
            fmt=args.format,
            keep_audio=not args.no_audio,
            max_frames=args.frames,
            registry=registry,
        )
        for warning in result.warnings:
            print(f"⚠ {warning}", file=sys.stderr)
        sound = ", sound kept" if result.audio_kept else ""
        print(
            f"{result.path}: {result.frames} frames in {result.seconds:.1f} s "
            f"({result.fps:.1f} FPS), {result.encoder}{sound}"
        )
        return 0
    raise ValueError(f"unknown video action {cmd}")
