"""Vectorised building blocks: spells painted into matrices, runs, ranks, sparse sampling.

Matrices are pupils x days (or pupils x slots). Nothing here loops over pupils or days.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def spell_cells(rows: Array, starts: Array, lengths: Array, n_cols: int) -> tuple[Array, Array]:
    """Expand spells (row, first column, length) into their cells, clipped to the matrix.

    Parameters
    ----------
    rows, starts, lengths : ndarray of int
        One entry per spell; lengths of 0 give no cells.
    n_cols : int
        Number of columns; cells at or beyond it are dropped.

    Returns
    -------
    tuple of ndarray
        Row and column of every cell covered by a spell (duplicates possible).
    """
    lengths = np.maximum(lengths.astype(np.int64), 0)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = np.repeat(starts.astype(np.int64), lengths) + offsets
    cell_rows = np.repeat(rows.astype(np.int64), lengths)
    keep = (cols >= 0) & (cols < n_cols)
    return cell_rows[keep], cols[keep]


def paint(shape: tuple[int, int], rows: Array, starts: Array, lengths: Array) -> Array:
    """Boolean matrix with the cells of each spell set."""
    out = np.zeros(shape, dtype=bool)
    r, c = spell_cells(rows, starts, lengths, shape[1])
    out[r, c] = True
    return out


def runs(mask: Array) -> tuple[Array, Array, Array]:
    """Maximal runs of True in each row of a boolean matrix.

    Returns
    -------
    tuple of ndarray
        Row, first column and last column of each run, in row-major order.
    """
    left = np.zeros_like(mask)
    left[:, 1:] = mask[:, :-1]
    right = np.zeros_like(mask)
    right[:, :-1] = mask[:, 1:]
    rows, first = np.nonzero(mask & ~left)
    _, last = np.nonzero(mask & ~right)
    return rows, first, last


def first_true(mask: Array) -> Array:
    """Column of the first True in each row, -1 for rows without one (int32)."""
    has = mask.any(axis=1)
    return np.where(has, mask.argmax(axis=1), -1).astype(np.int32)


def rank_within_rows(rows: Array, flag: Array) -> Array:
    """1-based rank of each flagged element among flagged elements of its row.

    ``rows`` must be sorted; unflagged elements get the rank of the last flagged one before.
    """
    cum = np.cumsum(flag, dtype=np.int64)
    if rows.size == 0:
        return cum
    new_row = np.ones(rows.size, dtype=bool)
    new_row[1:] = rows[1:] != rows[:-1]
    # Count flagged elements before each row's first element, and subtract it.
    before = np.where(new_row, cum - flag, 0)
    before = np.maximum.accumulate(np.where(new_row, before, -1))
    return cum - before


def segment_any(values: Array, rows: Array, first: Array, last: Array) -> Array:
    """Whether ``values`` (a boolean matrix) is True anywhere in each run."""
    flat = np.concatenate([values.reshape(-1).astype(np.int32), np.zeros(1, np.int32)])
    n_cols = values.shape[1]
    bounds = np.empty(first.size * 2, dtype=np.int64)
    bounds[0::2] = rows * n_cols + first
    bounds[1::2] = rows * n_cols + last + 1
    if bounds.size == 0:
        return np.zeros(0, dtype=bool)
    return np.add.reduceat(flat, bounds)[0::2] > 0


def sample_cells(rng: np.random.Generator, rate: Array, weights: Array) -> tuple[Array, Array]:
    """Sparse Bernoulli-like events: row i gets ~Poisson(rate[i] * sum(weights)) cells.

    Columns are drawn with probability proportional to ``weights``; duplicates are removed.
    Cheaper than a dense matrix of uniforms for rare events.

    Parameters
    ----------
    rng : numpy.random.Generator
    rate : ndarray of float, shape (n,)
        Expected events per column of weight 1.
    weights : ndarray of float, shape (m,)
        Relative weight of each column.

    Returns
    -------
    tuple of ndarray
        Rows and columns of the events, sorted row-major.
    """
    cum = np.cumsum(weights, dtype=np.float64)
    counts = rng.poisson(rate.astype(np.float64) * cum[-1])
    rows = np.repeat(np.arange(rate.size, dtype=np.int64), counts)
    cols = np.searchsorted(cum, rng.random(rows.size) * cum[-1], side="right")
    cols = np.minimum(cols, weights.size - 1)
    key = np.unique(rows * weights.size + cols)
    return key // weights.size, key % weights.size


def geometric(rng: np.random.Generator, mean: Array | float, size: int | None = None) -> Array:
    """Geometric draws (>= 1) with the given mean (>= 1)."""
    p = 1.0 / np.maximum(np.asarray(mean, dtype=np.float64), 1.0)
    return rng.geometric(p, size=size).astype(np.int64)


def uniform_int(rng: np.random.Generator, bounds: tuple[int, int], size: int) -> Array:
    """Integers uniform on ``[low, high]`` (both inclusive)."""
    return rng.integers(bounds[0], bounds[1] + 1, size=size, dtype=np.int64)
