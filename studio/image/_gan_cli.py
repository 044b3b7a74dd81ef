"""The ``studio image train-gan`` and ``generate --engine FILE.safetensors`` commands."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path


def user_gan_dir() -> Path:
    """``<model folder>/image-gan``: where trained generators go and are found."""
    from studio.core.models import ModelStore

    return ModelStore.from_settings().user_dir / "image-gan"


def _resolve_engine(engine: str) -> Path:
    if engine == "icons":
        from studio.image.gan import shipped_icons_model

        return shipped_icons_model()
    path = Path(engine).expanduser()
    if path.is_file():
        return path
    named = user_gan_dir() / path.name
    if named.is_file():
        return named
    raise ValueError(f"no generator file {engine} (looked here and in {user_gan_dir()})")


def run_gan_command(args, ctx) -> int:
    from studio.core.devices import pick_device

    if args.image_command == "eval-gan":
        return _eval(args, ctx)
    if args.image_command == "train-gan":
        from studio.image.gan import train_gan

        name = f"{Path(args.folder).resolve().name}-{args.arch}-{args.size}.safetensors"
        output = Path(args.output) if args.output else user_gan_dir() / name
        if len(sys.argv) > 2 and sys.argv[1] == "image":
            command = "studio image " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        else:
            command = f"studio image train-gan {args.folder} --size {args.size} --arch {args.arch}"
        report = train_gan(
            args.folder,
            output,
            size=args.size,
            arch=args.arch,
            minutes=args.minutes,
            steps=args.steps,
            batch=args.batch,
            seed=args.seed,
            resume=not args.fresh,
            sample_every_s=args.sample_minutes * 60,
            device=pick_device(args.device),
            command=command,
            captions=args.captions,
            precision=getattr(args, "precision", "auto"),
            ctx=ctx,
        )
        if int(os.environ.get("RANK", "0")) != 0:
            return 0  # under torchrun rank 0 reports for every process
        if args.json:
            json.dump(report.__dict__, sys.stdout, indent=2)
            print()
        else:
            if report.resumed_from:
                print(f"resumed at step {report.resumed_from}")
            print(
                f"{report.steps} steps ({report.steps_per_s:.2f}/s), D loss {report.d_loss:.3f}, "
                f"G loss {report.g_loss:.3f}; {len(report.labels)} classes, "
                f"{report.skipped} unreadable skipped"
                + (f"; {report.processes} processes (DDP)" if report.processes > 1 else "")
            )
            if report.note:
                print(f"note: {report.note}")
            print(f"generator: {report.model_file}\nsamples: {report.samples_png}")
        return 0
    # generate with a trained generator
    from studio.image.gan import generate_grid, generate_prompt_grid, load_generator
    from studio.image.io import Picture, save_picture

    path = _resolve_engine(args.engine)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(3))
    if not 1 <= args.n <= 256:
        raise ValueError("-n must be 1 to 256")
    if args.truncation < 0:
        raise ValueError("--truncation must be 0 (off) or more")
    model = load_generator(path, pick_device(getattr(args, "device", "auto")))
    params: dict = {"n": args.n, "seed": seed, "truncation": args.truncation}
    if model.text:
        if args.label:
            raise ValueError(f"{path.name} draws from text: use --prompt, not --label")
        params.update(prompt=args.prompt, to=args.to or "", transparent=args.transparent)
        what = f"{args.prompt!r}" + (f" to {args.to!r}" if args.to else "")
    else:
        if args.prompt or args.to:
            raise ValueError(
                f"{path.name} was trained on classes ({', '.join(model.labels[:12])}): use "
                "--label, not --prompt"
            )
        params.update(label=args.label or "")
        what = args.label or ""
    provenance = {
        "engine": "studio/image-gan",
        "model": path.name,
        "arch": model.arch,
        "params": params,
    }
    if getattr(args, "sheet", False):
        return _sheet(args, model, seed, provenance)
    if model.text:
        grid = generate_prompt_grid(
            model,
            args.n,
            seed,
            args.prompt,
            to=args.to,
            truncation=args.truncation,
            transparent=args.transparent,
        )
    else:
        grid = generate_grid(model, args.n, seed, args.label, truncation=args.truncation)
    save_picture(Picture(grid, provenance), args.output)
    print(
        f"{args.output}: {args.n} pictures of {model.size} px"
        f"{' (' + what + ')' if what else ''}, seed {seed}"
    )
    return 0


def _sheet(args, model, seed: int, provenance: dict) -> int:
    """``generate --sheet``: the pictures edge to edge and OUTPUT.json, their atlas."""
    from studio.core.atomic import write_text
    from studio.image.gan import sample, sample_prompt, to_pixels, with_alpha
    from studio.image.io import Picture, save_picture
    from studio.image.sheet import frame_name, pack

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".webp"):
        raise ValueError(f"a sprite sheet is a .png or .webp picture, not {out.name}")
    if model.text:
        images = sample_prompt(model, args.n, seed, args.prompt, to=args.to,
                               truncation=args.truncation)  # fmt: skip
        text = f"{args.prompt} to {args.to}" if args.to else args.prompt
        names = [frame_name(text, i) for i in range(len(images))]
    else:
        images, classes = sample(model, args.n, seed, args.label, truncation=args.truncation)
        names = [frame_name(model.labels[c], i) for i, c in enumerate(classes)]
    if args.transparent:
        icons = with_alpha(images)
    else:
        icons = to_pixels(images)
    provenance["params"].update(sheet=True, transparent=args.transparent)
    sheet, atlas = pack(icons, names, out.name, meta=provenance)
    save_picture(Picture(sheet, provenance), out)
    atlas_file = out.with_suffix(".json")
    write_text(atlas_file, json.dumps(atlas, indent=1) + "\n")
    print(
        f"{out}: a sprite sheet of {len(icons)} pictures of {model.size} px, seed {seed}\n"
        f"{atlas_file}: its atlas (frames {names[0]} ... {names[-1]})"
    )
    return 0


def _eval(args, ctx) -> int:
    from studio.image.gan_eval import evaluate_generators

    paths = [_resolve_engine(g) for g in args.generators]
    result = evaluate_generators(
        paths,
        args.train,
        args.heldout,
        args.tagger,
        seed=args.seed,
        inception=not getattr(args, "no_inception", False),
        ctx=ctx,
    )
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0

    def fmt(v, spec=".3f"):
        return "n/a" if v is None else format(v, spec)

    ref = result["reference"]
    print(
        f"{result['n_heldout']} held-out pictures; FID/KID on EfficientNet-Lite0 features and on "
        "Inception-v3 features (unverified weights)"
    )
    print(
        "| generator | FID (Inception, unverified) | KID (Inception, unverified) | FID (Lite0) "
        "| KID (Lite0) | prompt accuracy | diversity | NN distance / held-out's | near-copies |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| training pictures (floor) | {fmt(ref.get('fid_inception'), '.2f')} | "
        f"{fmt(ref.get('kid_inception'), '.4f')} | {fmt(ref['fid_lite0'], '.2f')} | "
        f"{fmt(ref['kid_lite0'], '.4f')} | {fmt(ref['prompt_accuracy'])} | "
        f"{fmt(ref['diversity'])} | - | - |"
    )
    for path, m in result["models"].items():
        print(
            f"| {Path(path).name} ({m['arch']}) | {fmt(m.get('fid_inception'), '.2f')} | "
            f"{fmt(m.get('kid_inception'), '.4f')} | {fmt(m['fid_lite0'], '.2f')} | "
            f"{fmt(m['kid_lite0'], '.4f')} | {fmt(m['prompt_accuracy'])} | "
            f"{fmt(m['diversity'])} | {fmt(m['nn_ratio'], '.2f')} | {fmt(m['copies'])} |"
        )
    print(result["inception"]["note"])
    print(
        "near-copies: generated pictures closer to a training picture than 95% of held-out "
        "pictures are to theirs"
    )
    for path, m in result["models"].items():
        if m.get("prompt_accuracy_shuffled") is not None:
            print(
                f"{Path(path).name}: prompt accuracy {fmt(m['prompt_accuracy'])} with the right "
                f"prompts, {fmt(m['prompt_accuracy_shuffled'])} with the prompts shuffled; "
                f"chance (the commonest group) {fmt(ref.get('prompt_chance'))}, on "
                f"{ref.get('prompt_judged')} held-out icons whose group the tagger knows"
            )
        if m.get("prompt_accuracy_full_caption") is not None:
            print(
                f"{Path(path).name}: with each icon's longest caption, "
                f"{fmt(m['prompt_accuracy_full_caption'])} with the right prompts, "
                f"{fmt(m['prompt_accuracy_full_caption_shuffled'])} shuffled"
            )
    return 0
