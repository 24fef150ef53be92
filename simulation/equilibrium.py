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

from aimarket.simulation import market_rounds
from aimarket.simulation.errors import SimulationError

BRAND_TOLERANCE = 1e-12  # largest |log s_model - log s_observed| of the brand inversion
BRAND_OUTER_ROUNDS = 60  # steps of the equilibrium inversion (Broyden), at most
BRAND_NEWTON_STEPS = 100
ALTERNATION_ROUNDS = 400  # inversion-then-repricing iterations at most before Broyden's method takes over
ALTERNATION_PATIENCE = 8  # accelerated iterations without a new smallest share gap before Broyden takes over
BROYDEN_PATIENCE = 8  # Broyden steps without shrinking the gap by BROYDEN_PROGRESS after which E2 is unreachable
BROYDEN_PROGRESS = 0.01
BRAND_LIMIT = 60.0  # |xi| [logit units] beyond which a share counts as unreachable (exp(60) ~ 1e26)
ANDERSON_DEPTH = 4  # past iterates combined by the Anderson acceleration


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


def best_response_rounds(model, search_rounds: int | None = None, max_rounds: int | None = None) -> tuple[int, float]:
    """Best-response rounds to the tolerance (E1, docs/ODD.md §7.6), at most ``max_rounds`` (default
    ``labs.br_max_rounds``); returns (rounds, Nash residual)."""
    cfg = model.config.labs
    max_rounds = cfg.br_max_rounds if max_rounds is None else max_rounds
    search_rounds = cfg.k_search_rounds if search_rounds is None else search_rounds
    search_rounds = min(search_rounds, max_rounds - 1)  # the last round reprices: a finite residual
    residual = math.inf
    for r in range(max_rounds):
        search = r < search_rounds
        residual = _compiled_round(model, search)
        if residual is None:
            residual = _strategy_round(model, search)
        if residual <= cfg.br_tolerance:
            return r + 1, residual
    return max_rounds, residual


def _strategy_round(model, search: bool) -> float:
    """One round in which every lab asks its strategy for its offers on every task type; returns the round's
    largest relative price change (infinite where a lab changed its products)."""
    residual = 0.0
    for lab in model.labs:
        for index, market in enumerate(model.markets):
            residual = max(residual, _ask(model, lab, index, market, search))
    return residual


def _ask(model, lab, index: int, market, search: bool) -> float:
    """``lab``'s strategy chooses its offers on task ``index``; they enter the market. Returns their largest
    relative price change (infinite where the products changed)."""
    old = lab.offers.get(index)
    candidate = lab.strategy.choose_offers(lab, market, index, model.k_grid, search=search)
    check_offer(model, lab, market, candidate)
    market.replace_lab_offers(lab.lab_id, candidate)
    lab.offers[index] = candidate
    return _price_change(old, candidate)


def _compiled_round(model, search: bool) -> float | None:
    """A round with one compiled call per task type (:mod:`aimarket.simulation.market_rounds`), where every lab
    has offers on every task type and its strategy lets the model run it (LabStrategy.search_sets,
    reprices_current_offers); the same prices as :func:`_strategy_round`. In a search round, a lab of the
    ``optimise`` kind whose search is not a screen of sets (a full search: a new offer count) is asked at its
    turn between compiled calls for the labs before and after it; the task types are then taken one after
    the other, which is the same (a lab's best response on one task type does not look at the others).
    Returns the round's residual, or None (nothing done) when the round is to be asked of every strategy."""
    labs = list(model.labs)
    if not all(index in lab.offers for lab in labs for index in range(len(model.markets))):
        return None
    if not search:
        if not all(lab.strategy.reprices_current_offers() for lab in labs):
            return None
        return max(_run_compiled(model, index, market, labs, None) for index, market in enumerate(model.markets))
    plans = [[_search_plan(model, lab, index, market) for lab in labs] for index, market in enumerate(model.markets)]
    if any(sets is None and not lab.strategy.reprices_current_offers()
           for sets_of_labs in plans for lab, sets in zip(labs, sets_of_labs, strict=True)):
        return None  # a strategy of its own: every lab is asked in turn, task type after task type
    residual = 0.0
    for index, market in enumerate(model.markets):
        first = 0
        while first < len(labs):
            if plans[index][first] is None:  # asked at its turn
                residual = max(residual, _ask(model, labs[first], index, market, search=True))
                first += 1
                continue
            last = first
            while last < len(labs) and plans[index][last] is not None:
                last += 1
            residual = max(residual, _run_compiled(model, index, market, labs[first:last], plans[index][first:last]))
            first = last
    return residual


def _search_plan(model, lab, index: int, market) -> list | None:
    """The sets ``lab`` screens on task ``index`` in a compiled search round, or None to ask its strategy (it
    searches in its own way, or its sets do not have as many products as its offers)."""
    sets = lab.strategy.search_sets(lab, market, index, model.k_grid)
    if sets is None or {len(products) for products in sets} != {len(lab.offers[index].products)}:
        return None
    return sets


def _run_compiled(model, index: int, market, labs: list, plans: list | None) -> float:
    """``labs``' moves on ``market`` in one compiled call: their candidate sets ``plans`` screened (a search
    round), or their offers repriced (``plans`` None). Returns the residual; a failed solve is an error
    naming step, lab and task."""
    lab_ids = [lab.lab_id for lab in labs]
    if plans is not None:
        done = market_rounds.search_round(market, lab_ids, [lab.variants for lab in labs], plans,
                                          [lab.price_hint(index) for lab in labs])
    else:
        done = market_rounds.reprice_round(market, lab_ids, [lab.offers[index].products for lab in labs])
    for lab, candidate in zip(labs[:len(done.candidates)], done.candidates, strict=True):
        lab.offers[index] = candidate
    if done.failed >= 0:
        lab = labs[done.failed]
        where = f"step {model.step_index}, lab '{lab.name}', task '{market.task.name}'"
        if done.outcome == market_rounds.FAILED:
            raise SimulationError(f"{where}: the best-response price fixed point did not converge")
        raise SimulationError(f"{where}: non-finite price or share in the best response")
    return done.residual


def lab_shares(market, lab_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean choice probability of each lab (all its offers) and the (users x labs) probabilities."""
    per_lab = market.lab_probabilities(lab_ids)
    return per_lab.mean(axis=0), per_lab


def share_gap(market, observed: dict[int, float]) -> float:
    """Largest |log s_model - log s_observed| over the labs in ``observed``."""
    labs = sorted(observed)
    shares, _ = lab_shares(market, labs)
    return float(np.max(np.abs(np.log(shares) - np.log([observed[lab] for lab in labs]))))


def _log_share_jacobian(shares: np.ndarray, per_user: np.ndarray) -> np.ndarray:
    """``d log s_j / d xi_k = mean_i P_ij (delta_jk - P_ik) / s_j`` at fixed prices (docs/ODD.md §7.4,
    step 2 of E2), from the labs' mean shares and the (users x labs) probabilities."""
    return (np.diag(shares) - per_user.T @ per_user / per_user.shape[0]) / shares[:, None]


def invert_shares(market, observed: dict[int, float]) -> None:
    """Brand terms of the labs in ``observed`` so that their shares equal ``observed`` at the market's current
    prices (step 2 of E2, docs/ODD.md §7.4): Newton on log shares, with the contraction step where Newton does
    not reduce the gap.
    The market keeps the best brand terms found (the starting point of :func:`solve_brand`)."""
    labs = sorted(observed)
    target = np.log(np.array([observed[lab] for lab in labs]))
    brand = dict(market.brand)
    shares, per_user = lab_shares(market, labs)
    gap = target - np.log(shares)
    for _ in range(BRAND_NEWTON_STEPS):
        if np.max(np.abs(gap)) <= BRAND_TOLERANCE:
            break
        try:
            direction = np.linalg.solve(_log_share_jacobian(shares, per_user), gap)
        except np.linalg.LinAlgError:
            direction = gap
        # Newton steps halved until the gap shrinks (in the Euclidean norm); the contraction step last
        for trial_step in [direction * 0.5**h for h in range(8)] + [gap]:
            trial = {**brand, **{lab: brand.get(lab, 0.0) + float(d) for lab, d in zip(labs, trial_step, strict=True)}}
            market.set_brand(trial)
            trial_shares, trial_per_user = lab_shares(market, labs)
            with np.errstate(divide="ignore"):  # a share of 0 gives an infinite gap, refused below
                trial_gap = target - np.log(trial_shares)
            if np.all(np.isfinite(trial_gap)) and np.linalg.norm(trial_gap) < np.linalg.norm(gap):
                break
        brand, shares, per_user, gap = trial, trial_shares, trial_per_user, trial_gap


def _anderson(xs: np.ndarray, gs: np.ndarray) -> np.ndarray:
    """Anderson-accelerated next iterate of the fixed point x = G(x) from past iterates ``xs`` and their
    images ``gs`` (rows, oldest first): ``G(x_k) - dG gamma`` with ``gamma`` the least-squares fit of the
    latest residual ``f_k = G(x_k) - x_k`` by the residual differences ``dF`` (type II, Walker and Ni 2011)."""
    residuals = gs - xs
    if len(xs) < 2:
        return gs[-1]
    d_res = np.diff(residuals, axis=0).T
    d_img = np.diff(gs, axis=0).T
    gamma, *_ = np.linalg.lstsq(d_res, residuals[-1], rcond=None)
    nxt = gs[-1] - d_img @ gamma
    return nxt if np.all(np.isfinite(nxt)) else gs[-1]


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


class _BrandProblem:
    """The unknowns of E2 (docs/ODD.md §7.4): one brand term per observed (task type, lab) pair, in the
    order of ``pairs``, and the log-share gap they must close."""

    def __init__(self, model, observed: list[dict[int, float]]):
        self.model = model
        self.observed = observed
        self.tasks = [i for i, obs in enumerate(observed) if obs]
        self.pairs = [(i, lab) for i in self.tasks for lab in sorted(observed[i])]
        self.target = np.log([observed[i][lab] for i, lab in self.pairs])

    def gap(self) -> np.ndarray:
        """``log s_obs - log s_model`` of every pair at the markets' current prices and brands."""
        with np.errstate(divide="ignore"):  # a share of 0 gives an infinite gap: unreachable, named below
            return self.target - np.concatenate([np.log(lab_shares(self.model.markets[i], sorted(self.observed[i]))[0])
                                                 for i in self.tasks])

    def brands(self) -> np.ndarray:
        """The markets' current brand terms of every pair."""
        return np.array([self.model.markets[i].brand_of(lab) for i, lab in self.pairs])

    def set_brands(self, x: np.ndarray) -> None:
        """Give the markets the brand terms ``x`` (one per pair); other labs' brands are kept."""
        for i in self.tasks:
            market = self.model.markets[i]
            solved = {lab: float(v) for (j, lab), v in zip(self.pairs, x, strict=True) if j == i}
            market.set_brand({**market.brand, **solved})

    def invert_at_current_prices(self) -> None:
        """Step 2 of E2 on every task type with observed shares (:func:`invert_shares`)."""
        for i in self.tasks:
            invert_shares(self.model.markets[i], self.observed[i])

    def gap_jacobian(self) -> np.ndarray:
        """``d gap / d xi`` at fixed prices: block diagonal over task types, each block minus
        :func:`_log_share_jacobian`."""
        jac = np.zeros((len(self.pairs), len(self.pairs)))
        start = 0
        for i in self.tasks:
            size = len(self.observed[i])
            shares, per_user = lab_shares(self.model.markets[i], sorted(self.observed[i]))
            jac[start:start + size, start:start + size] = -_log_share_jacobian(shares, per_user)
            start += size
        return jac


def solve_brand(model, observed: list[dict[int, float]], tolerance: float) -> tuple[int, float]:
    """Brand terms with which the *equilibrium* shares equal the observed ones to ``tolerance`` (largest
    |log gap|); ``observed[task][lab_id]`` are the shares (E2, docs/ODD.md §7.4, steps 1-5).

    First the shares are inverted at the no-brand equilibrium prices and labs choose their products
    against those brands (one equilibrium with the product search). Then inversion at the current prices
    and one repricing round alternate until both the share gap and the Nash residual are within their
    tolerances (:func:`_alternate`). If the alternation stalls, ``gap(xi) = log s_obs - log s_eq(xi) = 0``
    is solved, where every evaluation reprices to the price equilibrium (:func:`_broyden`).
    Returns (rounds, Nash residual) of the last equilibrium; the markets keep the solved brand terms."""
    best_response_rounds(model)  # step 1: the equilibrium without brands
    problem = _BrandProblem(model, observed)
    problem.invert_at_current_prices()  # step 2
    rounds, residual = best_response_rounds(model)  # step 3
    solved = _alternate(problem, tolerance, rounds, residual)
    if solved is not None:
        return solved
    return _broyden(problem, tolerance)


def _alternate(problem: _BrandProblem, tolerance: float, rounds: int, residual: float) -> tuple[int, float] | None:
    """Step 4 of E2 (docs/ODD.md §7.4): (rounds, Nash residual) once the gap and the residual are within
    their tolerances, or None when the alternation stalls.

    The map G(xi) = "inversion at the prices after one repricing round at xi" has the solution as its
    fixed point and costs one round per evaluation (Broyden's method costs a whole equilibrium per
    evaluation). Alone it converges slowly (the price response damps each inversion's effect on the
    shares), so its iterates are combined by Anderson acceleration (Walker and Ni 2011). Broyden's method
    takes over if the gap stops shrinking."""
    model = problem.model
    x = problem.brands()
    xs, gs = [], []
    best, stalled = math.inf, 0
    for _ in range(ALTERNATION_ROUNDS):
        gap = problem.gap()
        size = float(np.max(np.abs(gap)))
        if size <= tolerance and residual <= model.config.labs.br_tolerance:
            return rounds, residual
        stalled = 0 if size < best else stalled + 1
        best = min(best, size)
        if stalled >= ALTERNATION_PATIENCE or not np.isfinite(size):
            break
        problem.invert_at_current_prices()
        g = problem.brands()
        xs.append(x)
        gs.append(g)
        del xs[:-ANDERSON_DEPTH - 1], gs[:-ANDERSON_DEPTH - 1]
        x = _anderson(np.array(xs), np.array(gs))
        problem.set_brands(x)
        rounds, residual = best_response_rounds(model, search_rounds=0, max_rounds=1)
    return None


def _broyden(problem: _BrandProblem, tolerance: float) -> tuple[int, float]:
    """Step 5 of E2 (docs/ODD.md §7.4): Broyden's method on gap(xi) = 0, every evaluation repriced to the
    price equilibrium, from the Jacobian at fixed prices; where its step does not shrink the gap, the BLP
    contraction step ``xi <- xi + gap(xi)`` is taken (price responses damp the share response, so the
    contraction still converges, slowly, near a share the equilibrium can only just reach).
    Returns (rounds, Nash residual); raises :class:`SimulationError` when the shares are out of reach."""
    model = problem.model
    state = {}
    state["rounds"], state["residual"] = best_response_rounds(model, search_rounds=0)

    def gap_at(x: np.ndarray, gap: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(x)):
            raise _unreachable(model, problem.pairs, gap)
        problem.set_brands(x)
        state["rounds"], state["residual"] = best_response_rounds(model, search_rounds=0)
        return problem.gap()

    def converged(gap: np.ndarray) -> bool:
        return float(np.max(np.abs(gap))) <= tolerance and state["residual"] <= model.config.labs.br_tolerance

    x = problem.brands()
    gap = problem.gap()
    jac = problem.gap_jacobian()
    best, stalled = float(np.linalg.norm(gap)), 0
    for _ in range(BRAND_OUTER_ROUNDS):
        if converged(gap):
            return state["rounds"], state["residual"]
        size = float(np.linalg.norm(gap))
        stalled = 0 if size < (1.0 - BROYDEN_PROGRESS) * best else stalled + 1
        best = min(best, size)
        if stalled >= BROYDEN_PATIENCE or float(np.max(np.abs(x))) > BRAND_LIMIT:
            break  # a share the equilibrium cannot reach: the gap no longer shrinks, or the brand diverges
        try:
            step = -np.linalg.solve(jac, gap)
        except np.linalg.LinAlgError:
            step = gap
        new_gap = gap_at(x + step, gap)
        if not (np.all(np.isfinite(new_gap)) and np.linalg.norm(new_gap) < np.linalg.norm(gap)):
            step = gap
            new_gap = gap_at(x + step, gap)
        jac += np.outer(new_gap - gap - jac @ step, step) / float(step @ step)
        x, gap = x + step, new_gap
    raise _unreachable(model, problem.pairs, gap)
