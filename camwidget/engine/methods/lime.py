"""LIME (Ribeiro et al. 2016), the image algorithm of the ``lime`` package, batched and seeded.

Step for step as ``lime.lime_image.LimeImageExplainer.explain_instance`` (lime 0.2.0.1) with its
defaults, on the same superpixels as SeCAM:

- samples: ``RandomState(seed).randint(0, 2, n_samples · n_segments)`` reshaped, row 0 all on —
  the same draw the package makes when given ``random_state=seed`` (and a ``random_seed`` or a
  ``segmentation_fn``, so it draws nothing before), hence the same sample matrix;
- a switched-off superpixel is filled with its mean colour, truncated to uint8 as the package's
  assignment does (``hide="mean"``, the package's ``hide_color=None``) or with 0 (``hide="zero"``);
- labels: the model's softmax probabilities (what LIME's ``classifier_fn`` returns);
- kernel ``sqrt(exp(-d² / 0.25²))`` on the cosine distance of each row to the all-on row;
- ``Ridge(alpha=1, fit_intercept=True)`` weighted by the kernel, on every superpixel: the
  package's default ``num_features=100000`` makes its ``feature_selection="auto"`` keep all
  features (the column order it uses does not change ridge coefficients).

One difference of scope: the package fits its top five labels (``top_labels=5``); this fits the
session's target only (the top class by default), which is the same fit for that label.

The perturbed images go through ``session.preprocess`` and ``Session.predict`` in batches (no
autograd, no hooks, eval mode; the Session's cached forward is untouched). Progress is reported per batch
(cancellable by a newer request); with nobody listening a tqdm bar shows it. The fit is cached per
target and parameters, so changing ``k`` afterwards is instant.

LIME has no layer or feature maps: ``layer``, ``channels`` and ``region`` are accepted and ignored.
``.map`` is each pixel's segment coefficient after ReLU (for display); the raw coefficients,
intercept and weighted R² are in ``.params``; ``.mask`` marks the top-k positive segments (LIME's
``get_image_and_mask(positive_only=True, num_features=k)``).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import compiled, progress, targets
from .. import segments as segments_
from . import MethodSpec, Result, register

KERNEL_WIDTH = 0.25
HIDES = ("mean", "zero")


def samples(n_samples: int, n_segments: int, seed: int) -> np.ndarray:
    """The 0/1 sample matrix (n_samples × n_segments), row 0 all on — LIME's draw."""
    data = np.random.RandomState(seed).randint(0, 2, n_samples * n_segments).reshape((n_samples, n_segments))
    data[0, :] = 1
    return data


def kernel_weights(data: np.ndarray) -> np.ndarray:
    """sqrt(exp(-d²/0.25²)), d = cosine distance of each row to the all-on row (1 for an all-off row)."""
    on = data.sum(axis=1).astype(np.float64)
    distance = 1.0 - np.sqrt(on / data.shape[1])
    return np.sqrt(np.exp(-(distance**2) / KERNEL_WIDTH**2))


def fill(image: np.ndarray, segments: np.ndarray, hide: str) -> np.ndarray:
    """The image a switched-off superpixel shows: per-segment mean colour (truncated) or zeros."""
    if hide == "zero":
        return np.zeros_like(image)
    labels = segments.ravel()
    sizes = np.bincount(labels)
    sums = np.stack([np.bincount(labels, weights=image[..., c].ravel().astype(np.float64)) for c in range(3)], 1)
    means = sums / np.maximum(sizes, 1)[:, None]
    return means.astype(image.dtype)[segments]


def perturbed(image: np.ndarray, filled: np.ndarray, segments: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A batch of images (len(rows) × H × W × 3): each row's off segments replaced by ``filled``."""
    off = torch.from_numpy((rows == 0)[:, segments])  # B × H × W, bool
    # torch.where is ~3× faster than np.where here (threaded, no broadcast temporaries)
    return torch.where(off[..., None], torch.from_numpy(filled), torch.from_numpy(image)).numpy()


def probabilities(session, images: np.ndarray, target=None, predict=None) -> np.ndarray:
    """Softmax probabilities of the model for a batch of RGB uint8 images (no autograd); with a
    ``target``, that target's probabilities only (softmax of a class, sigmoid of a multi-label
    class, the score of a segmentation or custom target; see ``engine/targets.py``). ``predict``:
    the job's ``compiled.predictor`` (default: one for this batch alone)."""
    inputs = []
    for image in images:
        x = session.preprocess(image)
        inputs.append(x[None] if x.dim() == 3 else x)
    predict = compiled.predictor(session, len(images)) if predict is None else predict
    output = predict(torch.cat(inputs).to(session.device))
    if target is not None:
        return targets.probabilities(output, target).float().cpu().numpy()
    return torch.softmax(output.float(), dim=1).cpu().numpy()


def fit(data: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(coefficients, intercept, weighted R²)`` of LIME's weighted Ridge(alpha=1)."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=1, fit_intercept=True)
    model.fit(data, labels, sample_weight=weights)
    return model.coef_.copy(), float(model.intercept_), float(model.score(data, labels, sample_weight=weights))


def fit_segment_weights(session, target: int, segments: np.ndarray, n_samples: int = 1000, seed: int = 0,
                        batch_size: int = 32, hide: str = "mean") -> dict:
    """LIME of ``target`` on given superpixels (labels ``0 … n-1``): coefficients and fit, as a dict."""
    if hide not in HIDES:
        raise ValueError(f"hide: {hide!r} is unknown; valid: {', '.join(HIDES)}")
    n = segments_.count(segments)
    data = samples(n_samples, n, seed)
    image = session.image
    filled = fill(image, segments, hide)
    labels = np.empty(n_samples, dtype=np.float64)
    bar = None
    if not progress.active():
        from tqdm.auto import tqdm

        bar = tqdm(total=n_samples, desc="LIME", unit="sample", leave=False)
    predict = compiled.predictor(session, n_samples)  # the compiled copy for a large job
    try:
        for start in range(0, n_samples, batch_size):
            rows = data[start:start + batch_size]
            labels[start:start + len(rows)] = probabilities(session, perturbed(image, filled, segments, rows), target, predict)
            done = start + len(rows)
            if bar is not None:
                bar.update(len(rows))
            progress.report(done, n_samples)
    finally:
        if bar is not None:
            bar.close()
    coefficients, intercept, score = fit(data, labels, kernel_weights(data))
    return {"coefficients": coefficients, "intercept": intercept, "score": score}


def top_segments(coefficients: np.ndarray, k: int) -> np.ndarray:
    """The k largest positive coefficients' segments, best first (LIME's ``positive_only``)."""
    if k > coefficients.size:
        raise ValueError(f"k: {k} is larger than the number of segments ({coefficients.size}); choose k <= {coefficients.size}")
    order = np.argsort(-coefficients, kind="stable")[:k]
    return order[coefficients[order] > 0]


def _lime(session, layer, target, channels, region, segmenter, n_segments, n_samples, seed, batch_size, k, hide) -> Result:
    labels = segments_.of_session(session, segmenter, n_segments)
    if k > segments_.count(labels):
        top_segments(np.zeros(segments_.count(labels)), k)  # raises the k error before the slow part
    key = ("lime", target, segments_.cache_key(segmenter, n_segments), n_samples, seed, hide)
    fitted = session.cached(key, lambda: fit_segment_weights(session, target, labels, n_samples, seed, batch_size, hide))
    coefficients = fitted["coefficients"]
    chosen = top_segments(coefficients, k)
    selected = np.zeros(coefficients.size, dtype=bool)
    selected[chosen] = True
    return Result(
        map=torch.from_numpy(np.maximum(coefficients, 0)[labels].astype(np.float32)),
        weights=None,
        mask=selected[labels],
        segments=labels,
        params={
            "segmenter": segmenter, "n_segments": None if segmenter == "quickshift" else n_segments,
            "n_samples": n_samples, "seed": seed, "batch_size": batch_size, "k": k, "hide": hide,
            "segment_count": int(coefficients.size), "coefficients": coefficients.astype(np.float32),
            "intercept": fitted["intercept"], "score": fitted["score"], "selected": [int(i) for i in chosen],
        },
    )


register(MethodSpec(
    "lime", "LIME", _lime,
    params={
        **segments_.param_schema("quickshift"),
        "n_samples": {"type": "int", "default": 1000, "min": 2, "label": "samples"},
        "seed": {"type": "int", "default": 0, "min": 0, "max": 2**32 - 1, "label": "seed"},
        "batch_size": {"type": "int", "default": 32, "min": 1, "label": "batch size"},
        "k": {"type": "int", "default": 5, "min": 1, "label": "top k segments"},
        "hide": {"type": "choice", "default": "mean", "choices": list(HIDES), "label": "hidden segments"},
    },
    default_layer=lambda session: session.default_layer,
    description="Ribeiro et al. 2016: a weighted ridge fit on superpixels switched on and off (the baseline).",
))
