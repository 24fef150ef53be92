"""Input checks shared by the public wrappers of the kernels: every array a kernel receives is
contiguous float64 (or int64 / bool), finite, of the right shape, and named in the error otherwise."""

from __future__ import annotations

import numpy as np


def price_inputs(gross, mu, switching, is_provider, rival, cost, name: str = "gross", per_offer: str = "cost"):
    """The checked, contiguous arrays of a lab's offers against its rivals' log-sums: ``(gross, mu,
    switching, is_provider, rival, cost)`` with n users (``mu``) and one column of ``gross`` per entry of
    the per-offer vector ``cost`` (named ``per_offer`` in errors: the prices where those are given)."""
    mu = _vector(mu, "mu", positive=True)
    n = mu.size
    switching = _vector(switching, "switching", size=n)
    rival = _vector(rival, "rival", size=n)
    is_provider = np.ascontiguousarray(is_provider, dtype=np.bool_)
    cost = _vector(cost, per_offer)
    return _matrix(gross, name, (n, cost.size)), mu, switching, is_provider, rival, cost


def table_inputs(gross, mu, switching, provider, outside, price, owner):
    """The checked, contiguous arrays of a whole offer table: ``(gross, mu, switching, provider,
    outside, price, owner)`` with n users (``mu``) and one column of ``gross`` per offer."""
    mu, switching, provider, outside = _users(mu, switching, provider, outside)
    price, owner = _offers(price, owner)
    return _matrix(gross, "gross", (mu.size, price.size)), mu, switching, provider, outside, price, owner


def _vector(x, name: str, *, positive: bool = False, size: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (got shape {arr.shape})")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have {size} entries (got {arr.size})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0")
    return arr


def _matrix(x, name: str, shape: tuple[int, int]) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (got {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _users(mu, switching, provider, outside):
    mu = _vector(mu, "mu", positive=True)
    n = mu.size
    return (mu, _vector(switching, "switching", size=n), np.ascontiguousarray(provider, dtype=np.int64),
            _vector(outside, "outside", size=n))


def _offers(price, owner):
    price = _vector(price, "price")
    return price, np.ascontiguousarray(owner, dtype=np.int64)

