"""The compiled loops of ``engine/slic.py``: scikit-image's SLIC k-means and connectivity in 2-D.

Each loop does the arithmetic of scikit-image's ``_slic_cython`` and
``_enforce_label_connectivity_cython`` (``skimage/segmentation/_slic.pyx``) in the same order on
the same float64 values, so the labels are the same; importing this module needs numba.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

_FLOAT_MAX = np.finfo(np.float64).max  # the Cython's DBL_MAX


@njit(nogil=True, cache=True, inline="always")
def _row(l_row, a_row, b_row, distance, labels, xs, cx, dzy, spatial_weight, cl, ca, cb, k):
    """One row of one centre's window: distances, and the pixels this centre is nearer to."""
    for i in range(distance.shape[0]):  # from 0, so numba needs no wrap-around: this vectorises
        dx = cx - xs[i]
        dx *= dx
        d = (dzy + dx) * spatial_weight
        t = l_row[i] - cl
        colour = t * t
        t = a_row[i] - ca
        colour += t * t
        t = b_row[i] - cb
        colour += t * t
        d += colour
        old = distance[i]
        nearer = old > d
        distance[i] = d if nearer else old
        labels[i] = k if nearer else labels[i]


@njit(nogil=True, cache=True)
def assign(planes, segments, columns, step_y, step_x, spatial_weight, labels, distance, y0, y1):
    """The assignment step for rows ``y0 … y1-1``; True if any pixel there was assigned."""
    height, width = labels.shape
    for y in range(y0, y1):
        for x in range(width):
            distance[y, x] = _FLOAT_MAX
    assigned = False
    for k in range(segments.shape[0]):
        cz = segments[k, 0]
        cy = segments[k, 1]
        cx = segments[k, 2]
        if math.isnan(cz) or math.isnan(cy) or math.isnan(cx):
            continue  # an empty segment: the Cython's window is empty then too
        low = cy - 2 * step_y
        y_min = int(low) if low > 0 else 0
        high = cy + 2 * step_y + 1
        y_max = int(high) if high < height else height
        low = cx - 2 * step_x
        x_min = int(low) if low > 0 else 0
        high = cx + 2 * step_x + 1
        x_max = int(high) if high < width else width
        y_min = max(y_min, y0)
        y_max = min(y_max, y1)
        if y_min >= y_max or x_min >= x_max:
            continue
        assigned = True
        dz = cz * cz  # the one plane is z = 0 (cz is 0 unless the segment is empty)
        xs = columns[x_min:x_max]
        for y in range(y_min, y_max):
            dy = cy - y
            dy *= dy
            _row(planes[0, y, x_min:x_max], planes[1, y, x_min:x_max], planes[2, y, x_min:x_max],
                 distance[y, x_min:x_max], labels[y, x_min:x_max], xs, cx, dz + dy, spatial_weight,
                 segments[k, 3], segments[k, 4], segments[k, 5], k)
    return assigned


@njit(nogil=True, cache=True, error_model="numpy")
def update(planes, labels, segments, rows, columns):
    """Centres = mean position and colour of their pixels, summed in raster order.

    False (nothing changed) if some pixel has no label: no centre's window reached it.
    """
    height, width = labels.shape
    n = segments.shape[0]
    for y in range(height):
        for x in range(width):
            if labels[y, x] < 0:
                return False
    counts = np.zeros(n, np.intp)
    segments[:, :] = 0.0
    for y in range(height):
        for x in range(width):
            k = labels[y, x]
            counts[k] += 1
            segments[k, 1] += rows[y]
            segments[k, 2] += columns[x]
            segments[k, 3] += planes[0, y, x]
            segments[k, 4] += planes[1, y, x]
            segments[k, 5] += planes[2, y, x]
    for k in range(n):
        for c in range(6):
            segments[k, c] /= counts[k]  # 0 / 0 is NaN for an empty segment, as in the Cython
    return True


@njit(nogil=True, cache=True)
def connect(labels, min_size, max_size):
    """Connected labels ``0 …``: a component smaller than ``min_size`` joins its last-seen neighbour."""
    height, width = labels.shape
    out = np.full((height, width), -1, np.intp)
    coords = np.empty((max(max_size, 1), 2), np.intp)
    step_y = (0, 0, 1, -1)
    step_x = (1, -1, 0, 0)
    new = 0
    for y in range(height):
        for x in range(width):
            if out[y, x] > -1:
                continue
            adjacent = new
            label = labels[y, x]
            out[y, x] = new
            size = 1
            visited = 0
            coords[0, 0] = y
            coords[0, 1] = x
            while visited < size < max_size:
                for i in range(4):
                    yy = coords[visited, 0] + step_y[i]
                    xx = coords[visited, 1] + step_x[i]
                    if 0 <= xx < width and 0 <= yy < height:
                        if labels[yy, xx] == label and out[yy, xx] == -1:
                            out[yy, xx] = new
                            coords[size, 0] = yy
                            coords[size, 1] = xx
                            size += 1
                            if size >= max_size:
                                break
                        elif out[yy, xx] > -1 and out[yy, xx] != new:
                            adjacent = out[yy, xx]
                visited += 1
            if size < min_size:
                for i in range(size):
                    out[coords[i, 0], coords[i, 1]] = adjacent
            else:
                new += 1
    return out
