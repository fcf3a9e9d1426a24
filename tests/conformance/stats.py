"""Statistical checks with a stated false-alarm rate.

Each check compares samples with what they should follow (exact probabilities, another
sample of the same law, an exact mean) and fails, when they really do follow it, with
probability at most ``alpha`` (default :data:`ALPHA`, 1 in 10^4). Bounds are exact or
conservative (binomial and hypergeometric tails, Hoeffding), never normal approximations,
so they hold at any number of shots and for outcomes of tiny probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.stats import binom, hypergeom

#: The largest probability a check may fail on samples that follow the reference law.
ALPHA = 1e-4
#: Outcomes below this exact probability are checked together, as one event.
RARE = 1e-9


def _two_sided(lower_tail: np.ndarray, upper_tail: np.ndarray) -> np.ndarray:
    """A valid two-sided p-value from the two one-sided tails ``P(X <= x)``, ``P(X >= x)``.

    ``P(2 * min(F(X), S(X)) <= t) <= t`` for any discrete law, so rejecting below
    ``t`` has a false-alarm rate of at most ``t``.
    """
    return np.minimum(1.0, 2 * np.minimum(lower_tail, upper_tail))


def assert_counts_follow(
    counts: Mapping[str, int], probabilities: Mapping[str, float], alpha: float = ALPHA
) -> None:
    """Assert that ``counts`` could be shots drawn from ``probabilities``.

    If they are, the count ``X`` of an event of probability ``p`` is ``Binomial(n, p)``.
    The events tested are fixed by ``probabilities`` alone: each outcome with
    ``p >= RARE``, and all the other outcomes together (probability ``p_rest``, which
    is ~0 for outcomes that cannot happen). Each of these ``K`` events fails when its
    two-sided binomial p-value is below ``alpha / K``; by the union bound, samples of
    the right law fail at most ``alpha`` of the time. A deterministic outcome seen too
    rarely, or an impossible one seen at all, fails at any ``alpha``.
    """
    shots = sum(counts.values())
    assert shots > 0, "no shots were counted"
    common = sorted(key for key, p in probabilities.items() if p >= RARE)
    p = np.array([probabilities[key] for key in common] + [0.0])
    p[-1] = max(0.0, 1.0 - p[:-1].sum())
    x = np.array([counts.get(key, 0) for key in common] + [0])
    x[-1] = shots - x[:-1].sum()
    pvalues = _two_sided(binom.cdf(x, shots, p), binom.sf(x - 1, shots, p))
    threshold = alpha / len(p)
    failing = [
        (key, int(count), round(float(prob) * shots, 2))
        for key, count, prob, pvalue in zip([*common, "(rest)"], x, p, pvalues, strict=True)
        if pvalue < threshold
    ]
    assert not failing, (
        f"(outcome, count, expected count) off beyond a false-alarm rate of {alpha}: "
        f"{failing}; counts {dict(counts)}"
    )


def assert_same_distribution(
    counts_a: Mapping[str, int], counts_b: Mapping[str, int], width: int, alpha: float = ALPHA
) -> None:
    """Assert that two sets of shots of ``width``-bit outcomes could share one law.

    If both are i.i.d. draws of the same (unknown) law, then for each outcome, given its
    total count ``m`` in both samples, its count in ``counts_a`` is hypergeometric
    (``n_a + n_b`` shots of which ``n_a`` are ``a``'s, ``m`` drawn): Fisher's exact
    test, whose p-value does not depend on the unknown probability. All ``2**width``
    outcomes are tested (one never seen has p-value 1), each at ``alpha / 2**width``,
    so samples of one law fail at most ``alpha`` of the time.
    """
    n_a, n_b = sum(counts_a.values()), sum(counts_b.values())
    assert n_a > 0 and n_b > 0, "no shots were counted"
    keys = sorted(set(counts_a) | set(counts_b))
    a = np.array([counts_a.get(key, 0) for key in keys])
    m = a + np.array([counts_b.get(key, 0) for key in keys])
    law = hypergeom(n_a + n_b, n_a, m)
    pvalues = _two_sided(law.cdf(a), law.sf(a - 1))
    threshold = alpha / 2**width
    failing = [
        (key, counts_a.get(key, 0), counts_b.get(key, 0))
        for key, pvalue in zip(keys, pvalues, strict=True)
        if pvalue < threshold
    ]
    assert not failing, (
        f"(outcome, count in a, count in b) differ beyond a false-alarm rate of {alpha}: "
        f"{failing}; shots {n_a} and {n_b}"
    )


def hoeffding_halfwidth(
    spread: float, shots: int, alpha: float, reference_shots: int | None = None
) -> float:
    """How far a sampled estimate of an observable may stray from its mean (or from an
    independent estimate from ``reference_shots`` shots) but with probability ``alpha``.

    An estimate from ``shots`` shots per measured basis is a sum of independent terms:
    each shot of a basis whose terms' coefficients sum to ``B_g`` in absolute value adds
    a value in ``[-B_g, B_g] / shots``. The squared ranges add up to
    ``4 sum_g B_g^2 / shots <= 4 spread^2 / shots``, where ``spread`` is the sum of the
    absolute coefficients of the non-identity terms (however the terms are grouped), so
    Hoeffding's inequality ``P(|S - E S| >= t) <= 2 exp(-2 t^2 / sum of squared ranges)``
    gives ``t = spread * sqrt(2 ln(2 / alpha) / shots)``. The difference from an
    independent estimate (one basis, ``reference_shots`` shots) adds its squared ranges:
    ``1 / reference_shots`` under the root.
    """
    inverse = 1 / shots + (0 if reference_shots is None else 1 / reference_shots)
    return spread * math.sqrt(2 * math.log(2 / alpha) * inverse)


def assert_estimates_close(
    estimates: np.ndarray,
    references: np.ndarray,
    spreads: np.ndarray,
    shots: int,
    alpha: float = ALPHA,
    reference_shots: int | None = None,
) -> None:
    """Assert every sampled estimate lies within its Hoeffding half-width of the
    reference (exact, or sampled from ``reference_shots`` shots), each element at
    ``alpha / size`` so the whole array fails at most ``alpha`` of the time."""
    estimates, references = np.asarray(estimates), np.asarray(references)
    assert estimates.shape == references.shape, (estimates.shape, references.shape)
    each = alpha / max(estimates.size, 1)
    # 1e-9 absorbs rounding where there is nothing to sample (identity terms only).
    bounds = 1e-9 + np.vectorize(lambda s: hoeffding_halfwidth(s, shots, each, reference_shots))(
        spreads
    )
    off = np.abs(estimates - references) > bounds
    assert not off.any(), (
        f"estimates {estimates[off]} vs references {references[off]}: beyond the bounds "
        f"{np.broadcast_to(bounds, off.shape)[off]} (false-alarm rate {alpha}, {shots} shots)"
    )


def spread(observable: object) -> float:
    """The sum of the absolute coefficients of an observable's non-identity terms
    (a ``SparsePauliOp`` or an ``ObservablesArray`` entry: a dict of label to coefficient)."""
    items = (
        observable.items()
        if isinstance(observable, Mapping)
        else zip(
            observable.paulis.to_labels(),
            observable.coeffs,
            strict=True,  # type: ignore[attr-defined]
        )
    )
    return float(sum(abs(c) for label, c in items if set(label) != {"I"}))
