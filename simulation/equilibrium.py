"""Bertrand-Nash prices to a tolerance, and the brand terms that make step-0 shares the observed ones
(docs/ODD.md §7.6 "Equilibrium", §7.4 "Brand").

``best_response_rounds`` lets labs best-respond in turn (Gauss-Seidel, in order of id, every task type)
until no price moves by more than ``labs.br_tolerance`` (relative) in a round, or
``labs.br_max_rounds`` rounds have passed (E1). In the first ``labs.k_search_rounds`` rounds a lab may
change its products (variant, k); later rounds reprice the chosen products only, so a step ends in a
price equilibrium given the inference choices. The Nash residual is the largest relative price
change of the last round (infinite when a product changed in it).

``solve_brand`` inverts the market shares (Berry 1994): at step 0 it finds the brand terms xi of the
roster labs with an observed share so that the model's *equilibrium* shares equal the observed ones
(E2): ``s_j(xi, p*(xi)) = s_j^obs``. At fixed prices the inversion is the fixed point of the BLP
contraction ``xi <- xi + log s^obs - log s(xi)``, found by Newton's method on log shares (the
contraction step is the fallback); with prices re-solved to equilibrium at every evaluation the
system is solved by Broyden's method with the contraction step as fallback.
"""

from __future__ import annotations

import math

import numpy as np

from aimarket.simulation.errors import SimulationError

BRAND_TOLERANCE = 1e-12  # largest |log s_model - log s_observed| of the brand inversion
BRAND_OUTER_ROUNDS = 300  # steps of the equilibrium inversion
BRAND_NEWTON_STEPS = 100


def _price_change(old, new) -> float:
    if old is None or old.products != new.products:
        return math.inf
    return float(np.max(np.abs(new.price - old.price) / np.maximum(np.abs(old.price), 1e-300)))


def check_offer(model, lab, market, candidate) -> None:
    where = f"step {model.step_index}, lab '{lab.name}', task '{market.task.name}'"
    if candidate.iterations < 0:
        raise SimulationError(f"{where}: the best-response price fixed point did not converge")
    for field in ("price", "share", "cost", "eoom"):
        values = getattr(candidate, field)
        if not np.all(np.isfinite(values)):
            raise SimulationError(f"{where}: non-finite {field} {values}")


def best_response_rounds(model, search_rounds: int | None = None) -> tuple[int, float]:
    """Best-response rounds to the tolerance (E1); returns (rounds, Nash residual)."""
    cfg = model.config.labs
    search_rounds = cfg.k_search_rounds if search_rounds is None else search_rounds
    search_rounds = min(search_rounds, cfg.br_max_rounds - 1)  # the last round reprices: a finite residual
    residual = math.inf
    for r in range(cfg.br_max_rounds):
        residual = 0.0
        for lab in model.labs:
            for index, market in enumerate(model.markets):
                old = lab.offers.get(index)
                candidate = lab.strategy.choose_offers(lab, market, index, model.k_grid, search=r < search_rounds)
                check_offer(model, lab, market, candidate)
                residual = max(residual, _price_change(old, candidate))
                market.replace_lab_offers(lab.lab_id, candidate)
                lab.offers[index] = candidate
        if residual <= cfg.br_tolerance:
            return r + 1, residual
    return cfg.br_max_rounds, residual


def lab_shares(market, lab_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean choice probability of each lab (all its offers) and the (users x labs) probabilities."""
    prob, _ = market.choice_probabilities()
    per_lab = np.stack([prob[:, :-1][:, market.owner == lab].sum(axis=1) for lab in lab_ids], axis=1)
    return per_lab.mean(axis=0), per_lab


def share_gap(market, observed: dict[int, float]) -> float:
    """Largest |log s_model - log s_observed| over the labs in ``observed``."""
    labs = sorted(observed)
    shares, _ = lab_shares(market, labs)
    return float(np.max(np.abs(np.log(shares) - np.log([observed[lab] for lab in labs]))))


def invert_shares(market, observed: dict[int, float]) -> None:
    """Brand terms of the labs in ``observed`` so that their shares equal ``observed`` at the market's current
    prices (E2): Newton on log shares, with the contraction step where Newton does not reduce the gap.
    The market keeps the best brand terms found (the starting point of :func:`solve_brand`)."""
    labs = sorted(observed)
    target = np.log(np.array([observed[lab] for lab in labs]))
    brand = dict(market.brand)
    shares, per_user = lab_shares(market, labs)
    gap = target - np.log(shares)
    for _ in range(BRAND_NEWTON_STEPS):
        if np.max(np.abs(gap)) <= BRAND_TOLERANCE:
            break
        # d log s_j / d xi_k = mean_i P_ij (delta_jk - P_ik) / s_j
        jac = (np.diag(shares) - per_user.T @ per_user / per_user.shape[0]) / shares[:, None]
        try:
            direction = np.linalg.solve(jac, gap)
        except np.linalg.LinAlgError:
            direction = gap
        # Newton steps halved until the gap shrinks (in the Euclidean norm); the contraction step last
        for trial_step in [direction * 0.5**h for h in range(8)] + [gap]:
            trial = {**brand, **{lab: brand.get(lab, 0.0) + float(d) for lab, d in zip(labs, trial_step, strict=True)}}
            market.set_brand(trial)
            trial_shares, trial_per_user = lab_shares(market, labs)
            trial_gap = target - np.log(trial_shares)
            if np.all(np.isfinite(trial_gap)) and np.linalg.norm(trial_gap) < np.linalg.norm(gap):
                break
        brand, shares, per_user, gap = trial, trial_shares, trial_per_user, trial_gap


def _unreachable(model, pairs, gap) -> SimulationError:
    """The error for observed shares that no brand terms reach in equilibrium, naming the worst lab and task."""
    worst = int(np.nanargmax(np.abs(np.where(np.isfinite(gap), gap, np.inf))))
    task, lab = pairs[worst]
    name = next((x.name for x in model.labs if x.lab_id == lab), str(lab))
    return SimulationError(
        f"step 0, lab '{name}', task '{model.config.task_names[task]}': no brand term gives the observed share in "
        f"equilibrium (log-share gap {float(gap[worst]):.3g}); a lab's equilibrium share is bounded by the dispersion "
        "of users' value (docs/ODD.md §5.4): lower users.value_sigma or the task type's value_sigma, difficulty_sd "
        "or value_gradient, or the roster's share")


def solve_brand(model, observed: list[dict[int, float]], tolerance: float) -> tuple[int, float]:
    """Brand terms with which the *equilibrium* shares equal the observed ones to ``tolerance`` (largest
    |log gap|); ``observed[task][lab_id]`` are the shares (E2).

    First the shares are inverted at the no-brand equilibrium prices and labs choose their products
    against those brands (one equilibrium with the product search). Then ``gap(xi) = log s_obs -
    log s_eq(xi) = 0`` is solved, where every evaluation reprices to the price equilibrium: by Broyden's
    method from the Jacobian at fixed prices, with the BLP contraction step ``xi <- xi + gap(xi)`` wherever
    Broyden's step does not shrink the gap (price responses damp the share response, so the contraction
    still converges, slowly, near a share the equilibrium can only just reach).
    Returns (rounds, Nash residual) of the last equilibrium; the markets keep the solved brand terms."""
    rounds, residual = best_response_rounds(model)
    tasks = [i for i, obs in enumerate(observed) if obs]
    for i in tasks:
        invert_shares(model.markets[i], observed[i])
    rounds, residual = best_response_rounds(model)
    pairs = [(i, lab) for i in tasks for lab in sorted(observed[i])]
    target = np.log([observed[i][lab] for i, lab in pairs])
    state = {"rounds": rounds, "residual": residual}

    def gap_at(x: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            raise _unreachable(model, pairs, gap)
        for i in tasks:
            market = model.markets[i]
            market.set_brand({**market.brand, **{lab: float(v) for (j, lab), v in zip(pairs, x, strict=True) if j == i}})
        state["rounds"], state["residual"] = best_response_rounds(model, search_rounds=0)
        logs = np.concatenate([np.log(lab_shares(model.markets[i], sorted(observed[i]))[0]) for i in tasks])
        return target - logs

    def converged(gap: np.ndarray) -> bool:
        return float(np.max(np.abs(gap))) <= tolerance and state["residual"] <= model.config.labs.br_tolerance

    x = np.array([model.markets[i].brand_of(lab) for i, lab in pairs])
    gap = target - np.concatenate([np.log(lab_shares(model.markets[i], sorted(observed[i]))[0]) for i in tasks])
    # Broyden's method on gap(xi) = 0 from the Jacobian at fixed prices; where its step does not shrink
    # the gap, the contraction step xi + gap is taken (it always is a descent step for this map).
    jac = np.zeros((len(pairs), len(pairs)))
    start = 0
    for i in tasks:
        size = len(observed[i])
        shares, per_user = lab_shares(model.markets[i], sorted(observed[i]))
        jac[start:start + size, start:start + size] = -(np.diag(shares) - per_user.T @ per_user / per_user.shape[0]) \
            / shares[:, None]
        start += size
    for _ in range(BRAND_OUTER_ROUNDS):
        if converged(gap):
            return state["rounds"], state["residual"]
        try:
            step = -np.linalg.solve(jac, gap)
        except np.linalg.LinAlgError:
            step = gap
        new_gap = gap_at(x + step)
        if not (np.all(np.isfinite(new_gap)) and np.linalg.norm(new_gap) < np.linalg.norm(gap)):
            step = gap
            new_gap = gap_at(x + step)
        jac += np.outer(new_gap - gap - jac @ step, step) / float(step @ step)
        x, gap = x + step, new_gap
    raise _unreachable(model, pairs, gap)
