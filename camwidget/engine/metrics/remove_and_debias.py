"""ROAD — RemOve And Debias (Rong et al. 2022), with the noisy linear imputer.

Percentiles p follow pytorch-grad-cam's convention: p is the share of pixels *kept*.

- MoRF(p) keeps the pixels whose map value is below the map's p-th percentile (it removes the most
  relevant 100 − p %): kept = M < percentile(M, p);
- LeRF(p) keeps the most relevant p %: kept = (1 − M) < percentile(1 − M, p);

with M the map upsampled to the model input and normalised to [0, 1]. The removed pixels are
filled by the **noisy linear imputer**: each removed pixel equals the weighted mean of its eight
neighbours (weights 1/6 orthogonal, 1/12 diagonal, renormalised at the border), the values of all
removed pixels solved together as one sparse linear system per image (one factorisation, one
right-hand side per colour channel), plus Gaussian noise of standard deviation ``noise`` (0.01)
drawn from a generator seeded with ``seed`` for each imputed image. The score is p(target) of the
imputed input at each percentile; the number is their mean (MoRF: lower is better, LeRF: higher).
``road`` combines both as (mean LeRF − mean MoRF) / 2, pytorch-grad-cam's ``ROADCombined``.

Where nothing is kept (a map whose p-th percentile is its minimum) or a removed region touches no
kept pixel, the system has no solution: those pixels are filled with 0 (the mean colour of the
normalised input) plus the noise, where pytorch-grad-cam's solver returns NaN.

The system is assembled with vectorised NumPy (pytorch-grad-cam fills a ``lil_matrix`` entry list);
the equations are the same, so the same noise gives the same imputed image up to the solver's rounding.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import torch

from .passes import ORIGINAL, Context, Request
from .result import Curve, MetricResult

NEIGHBOURS = (((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
              ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6))
DEFAULT_PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
ORDERS = ("morf", "lerf")


def check_percentiles(percentiles: Any) -> tuple[float, ...]:
    if isinstance(percentiles, (str, bytes)) or not isinstance(percentiles, Sequence) or not len(percentiles):
        raise TypeError(f"percentiles: expected a non-empty list of numbers in (0, 100), got {percentiles!r}")
    values = []
    for p in percentiles:
        if isinstance(p, bool) or not isinstance(p, Real):
            raise TypeError(f"percentiles: {p!r} is not a number")
        if not 0 < float(p) < 100:
            raise ValueError(f"percentiles: {p} is outside (0, 100); a percentile is the share of pixels kept")
        values.append(float(p))
    return tuple(values)


def kept_pixels(saliency: np.ndarray, percentile: float, order: str) -> np.ndarray:
    """The boolean H × W mask of the pixels ROAD keeps at ``percentile`` (pytorch-grad-cam's thresholds)."""
    values = saliency if order == "morf" else 1 - saliency
    return values < np.percentile(values, percentile)


def imputation_system(kept: np.ndarray, image: np.ndarray):
    """``(A, b, unknown)``: the linear system whose solution fills the pixels not ``kept``.

    ``image`` is C × H × W. Row i: Σ_{neighbours n} w_n · v_n − (Σ w_n) · v_i = 0, the known
    neighbours moved to the right-hand side (one column per channel).
    """
    from scipy.sparse import coo_matrix

    h, w = kept.shape
    flat_kept = kept.ravel()
    flat_image = image.reshape(image.shape[0], -1)
    unknown = np.flatnonzero(~flat_kept)
    n = unknown.size
    variable = np.full(h * w, -1, dtype=np.int64)
    variable[unknown] = np.arange(n)
    rows_u, cols_u = np.divmod(unknown, w)
    b = np.zeros((n, image.shape[0]))
    diagonal = np.zeros(n)
    rows, cols, values = [], [], []
    for (dr, dc), weight in NEIGHBOURS:
        r, c = rows_u + dr, cols_u + dc
        valid = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        ids = np.flatnonzero(valid)
        neighbour = r[valid] * w + c[valid]
        diagonal[ids] += weight
        known = flat_kept[neighbour]
        b[ids[known]] -= weight * flat_image[:, neighbour[known]].T
        rows.append(ids[~known])
        cols.append(variable[neighbour[~known]])
        values.append(np.full(int((~known).sum()), weight))
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    values.append(-diagonal)
    a = coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsc()
    return a, b, unknown


def impute(image: torch.Tensor, kept: np.ndarray, noise: float = 0.01, seed: int = 0) -> torch.Tensor:
    """``image`` (C × H × W) with the pixels not ``kept`` filled by the noisy linear imputer."""
    from scipy.sparse.linalg import spsolve

    array = image.detach().float().cpu().numpy()
    a, b, unknown = imputation_system(kept, array)
    flat = torch.from_numpy(array.reshape(array.shape[0], -1).copy())
    if unknown.size == 0:
        return flat.reshape(image.shape)
    if unknown.size == kept.size:
        solution = np.zeros((unknown.size, array.shape[0]))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a removed region with no kept neighbour: singular, handled below
            solution = spsolve(a, b)
        solution = np.nan_to_num(np.asarray(solution).reshape(unknown.size, -1), nan=0.0, posinf=0.0, neginf=0.0)
    filled = torch.tensor(solution, dtype=torch.float).t()
    generator = torch.Generator().manual_seed(int(seed))
    flat[:, torch.from_numpy(unknown)] = filled + noise * torch.randn(filled.shape, generator=generator)
    return flat.reshape(image.shape)


def requests(context: Context, order: str, percentiles, noise: float, seed: int) -> tuple[list, list[Request]]:
    saliency = context.saliency.numpy()
    keys, needed = [], []
    for p in percentiles:
        key = ("road", order, p, noise, seed)
        keys.append(key)

        def build(p=p) -> torch.Tensor:
            return impute(context.input[0], kept_pixels(saliency, p, order), noise, seed)[None].to(context.input)

        needed.append(Request(key, build))
    return keys, needed


def check_noise(noise: Any) -> float:
    if isinstance(noise, bool) or not isinstance(noise, Real) or not 0 <= float(noise) < float("inf"):
        raise ValueError(f"noise: the imputer's noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def result(context: Context, order: str, percentiles, noise, seed, keys, probabilities) -> MetricResult:
    scores = np.asarray([probabilities[k] for k in keys])
    original = probabilities[ORIGINAL]
    return MetricResult(
        metric=f"road-{order}",
        value=float(scores.mean()),
        curve=Curve(np.asarray(percentiles), scores, "percentile of pixels kept", context.score_label),
        params={"percentiles": list(percentiles), "noise": noise, "seed": seed},
        higher_is_better=order == "lerf",
        details={"probability": original, "differences": (scores - original).tolist()},
    )


def combined(morf: MetricResult, lerf: MetricResult) -> MetricResult:
    """(mean LeRF − mean MoRF) / 2: higher is better."""
    return MetricResult("road", (lerf.value - morf.value) / 2, None, dict(morf.params), higher_is_better=True,
                        details={"morf": morf.value, "lerf": lerf.value})
