"""Statistical checks with a stated false-failure rate.

Each check here fails a correct implementation with probability below
:data:`FAILURE_RATE`, all its comparisons together (a Bonferroni split), so a failure
means a real disagreement, not bad luck. Seeds are fixed, so a passing test
stays passing; the rate says how unlucky a seed would have to be to hide behind one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import chi2, chi2_contingency, norm

#: The most a correct implementation may fail one test, over all its comparisons.
FAILURE_RATE = 1e-4
#: Outcomes seen fewer times than this (both samples together) are pooled into one bin,
#: so the chi-square approximation holds in every cell.
MIN_POOLED_COUNT = 10

Counts = Mapping[str, int]


def z_bound(comparisons: int = 1) -> float:
    """The normal quantile ``z`` such that ``comparisons`` two-sided checks
    ``|estimate - reference| <= z * sigma`` all pass with probability at least
    ``1 - FAILURE_RATE``."""
    return float(norm.isf(FAILURE_RATE / (2 * comparisons)))


def assert_within(
    ours: ArrayLike, reference: ArrayLike, sigma: ArrayLike, *, allowance: ArrayLike = 0.0
) -> None:
    """Each value of ``ours`` within ``z * sigma + allowance`` of ``reference``
    (elementwise, broadcast), ``z`` from :func:`z_bound` over all the values compared;
    ``allowance`` bounds a known systematic difference."""
    ours, reference, sigma, allowance = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (ours, reference, sigma, allowance))
    )
    z = z_bound(ours.size)
    excess = np.abs(ours - reference) - z * sigma - allowance
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert np.all(excess <= 0), (
        f"at {worst}: {ours[worst]} vs {reference[worst]}, "
        f"more than {z:.2f} x {sigma[worst]} + {allowance[worst]}"
    )


def assert_same_distribution(ours: Counts, reference: Counts) -> None:
    """Two independent samples (counts) drawn from one distribution (see
    :func:`assert_same_distributions`)."""
    assert_same_distributions([ours], [reference])


def assert_same_distributions(ours: Sequence[Counts], reference: Sequence[Counts]) -> None:
    """Each ``ours[i]`` and ``reference[i]`` drawn from one distribution, all pairs
    independent: a chi-square homogeneity test per pair, their statistics and degrees of
    freedom summed into one test that rejects below a p-value of :data:`FAILURE_RATE`.

    Rare outcomes are pooled by their combined count, which does not depend on which
    sample they fell in, so the pooling keeps the test's level."""
    assert len(ours) == len(reference), (len(ours), len(reference))
    statistic, dof = 0.0, 0
    for counts, other in zip(ours, reference, strict=True):
        cells = _pooled_cells(counts, other)
        if len(cells) > 1:  # a single cell holds everything: nothing to tell apart
            found = chi2_contingency(cells, correction=False)
            statistic += found.statistic
            dof += found.dof
    pvalue = chi2.sf(statistic, dof) if dof else 1.0
    assert pvalue >= FAILURE_RATE, (
        f"p = {pvalue:.2e} < {FAILURE_RATE} (chi2 = {statistic:.1f}, {dof} dof): "
        f"{list(map(dict, ours))} vs {list(map(dict, reference))}"
    )


def _pooled_cells(ours: Counts, reference: Counts) -> np.ndarray:
    """A row per outcome, a column per sample; rare outcomes pooled into one row."""
    outcomes = set(ours) | set(reference)
    table = np.array([[ours.get(o, 0), reference.get(o, 0)] for o in outcomes], dtype=float)
    table = table[np.argsort(-table.sum(axis=1), kind="stable")]
    common = table.sum(axis=1) >= MIN_POOLED_COUNT
    rare = table[~common].sum(axis=0)
    cells = table[common]
    if rare.sum() >= MIN_POOLED_COUNT or not len(cells):
        return np.vstack([cells, rare])
    cells[-1] += rare  # too few to stand alone: joins the least common row
    return cells
