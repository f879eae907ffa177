"""Stacking weights against closed forms and a brute-force search over the simplex."""

from contextlib import nullcontext

import numpy as np
import pytest

from hessfit.train._stacking import simplex_least_squares, stack_weights


def _members(rng, n_mol=6, n=9):
    ref = [rng.normal(size=(n, n)) for _ in range(n_mol)]
    return ref, {k: [h + rng.normal(scale=s, size=h.shape) for h in ref] for k, s in (("a", 0.3), ("b", 0.6),
                                                                                      ("c", 1.0))}


def test_exact_mixture_is_recovered():
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(6, 6)) for _ in range(4)]
    b = [rng.normal(size=(6, 6)) for _ in range(4)]
    ref = [0.3 * x + 0.7 * y for x, y in zip(a, b)]
    w = stack_weights({"a": a, "b": b}, ref, range(4))
    assert w["a"] == pytest.approx(0.3, abs=1e-6) and w["b"] == pytest.approx(0.7, abs=1e-6)


def test_two_independent_members_inverse_variance():
    # independent errors of variance s²: the optimum is w ∝ 1/s² (closed form), up to sampling noise
    rng = np.random.default_rng(1)
    ref, preds = _members(rng, n_mol=200, n=12)
    w = stack_weights({k: preds[k] for k in ("a", "b")}, ref, range(200))
    expected = (1 / 0.3 ** 2) / (1 / 0.3 ** 2 + 1 / 0.6 ** 2)
    assert w["a"] == pytest.approx(expected, abs=0.01)


def test_matches_brute_force_on_the_simplex():
    rng = np.random.default_rng(2)
    ref, preds = _members(rng)
    X = np.stack([np.concatenate([h.ravel() for h in preds[k]]) for k in "abc"], axis=1)
    r = np.concatenate([h.ravel() for h in ref])
    w = simplex_least_squares(X.T @ X, X.T @ r)
    grid = [(i / 200, j / 200, 1 - (i + j) / 200) for i in range(201) for j in range(201 - i)]
    best = min(grid, key=lambda g: np.sum((X @ np.array(g) - r) ** 2))
    assert np.sum((X @ w - r) ** 2) <= np.sum((X @ np.array(best) - r) ** 2) + 1e-9
    assert np.allclose(w, best, atol=0.01) and w.min() >= 0 and w.sum() == pytest.approx(1)


def test_boundary_optimum_and_pruning():
    # a member far worse than the others, and correlated with the best, gets weight 0 and is dropped
    rng = np.random.default_rng(3)
    ref, preds = _members(rng, n_mol=50)
    preds["bad"] = [h + 5 * (p - h) for h, p in zip(ref, preds["a"])]
    w = stack_weights(preds, ref, range(50), min_weight=0.03)
    assert "bad" not in w and set(w) <= {"a", "b", "c"} and sum(w.values()) == pytest.approx(1)
    assert min(w.values()) >= 0.03


def test_grouped_simplex_constraints_hold_per_group():
    # two groups of two variables, each an independent two-member problem with a known interior optimum
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 4))
    w_true = np.array([0.25, 0.75, 0.6, 0.4])
    r = x @ w_true
    w = simplex_least_squares(x.T @ x, x.T @ r, groups=[0, 0, 1, 1])
    np.testing.assert_allclose(w, w_true, atol=1e-6)


def test_class_weights_are_recovered_from_an_exact_class_mixture():
    from hessfit.model import PAIR_CLASSES, combine_by_class, pair_class_index
    from hessfit.train._stacking import class_stack_weights
    from tests.model.test_hessian import _molecule
    from tests.model.test_pair_classes import random_springs, spring_hessian

    rng = np.random.default_rng(5)
    mols = [_molecule(seed=s, n_heavy=5, n_h=7) for s in range(6)]
    idx = [pair_class_index(m) for m in mols]
    present = sorted(set(np.concatenate([i[i >= 0] for i in idx]).tolist()))
    w_true = rng.uniform(0.1, 0.9, len(PAIR_CLASSES))
    a = [spring_hessian(np.asarray(m.positions), random_springs(rng, m.n_atoms)) for m in mols]
    b = [spring_hessian(np.asarray(m.positions), random_springs(rng, m.n_atoms)) for m in mols]
    ref = [combine_by_class([x, y], i, [w_true, 1 - w_true]) for x, y, i in zip(a, b, idx)]
    w = class_stack_weights({"a": a, "b": b}, ref, idx, range(len(mols)))
    for c in present:  # every class that occurs comes back; each class's weights are convex
        name = PAIR_CLASSES[c]
        assert w["a"][name] == pytest.approx(w_true[c], abs=1e-5)
        assert w["a"][name] + w["b"][name] == pytest.approx(1.0, abs=1e-12)
    assert len(present) >= 6


def test_class_weight_pruning_keeps_every_class_a_member():
    # a third member far worse than the others gets weight 0 in every class and is pruned; no class is left empty
    from hessfit.model import PAIR_CLASSES, pair_class_index
    from hessfit.train._stacking import class_stack_weights
    from tests.model.test_hessian import _molecule
    from tests.model.test_pair_classes import random_springs, spring_hessian

    rng = np.random.default_rng(6)
    mols = [_molecule(seed=s, n_heavy=5, n_h=7) for s in range(5)]
    idx = [pair_class_index(m) for m in mols]
    ref = [spring_hessian(np.asarray(m.positions), random_springs(rng, m.n_atoms)) for m in mols]
    preds = {k: [h + spring_hessian(np.asarray(m.positions), sc * random_springs(rng, m.n_atoms))
                 for h, m in zip(ref, mols)] for k, sc in (("a", 0.05), ("b", 0.08), ("bad", 3.0))}
    present = {PAIR_CLASSES[c] for i in idx for c in np.unique(i[i >= 0])}
    with pytest.warns(UserWarning, match="no pair of class") if len(present) < 8 else nullcontext():
        w = class_stack_weights(preds, ref, idx, range(len(mols)), min_weight=0.03)
    for c in PAIR_CLASSES:
        column = [w[k][c] for k in w]
        assert sum(column) == pytest.approx(1.0, abs=1e-12) and max(column) > 0
        assert all(x == 0 or x >= 0.03 for x in column)
        # a class seen in the fit drops the bad member; an unseen one keeps equal weights (and says so)
        assert w["bad"][c] == 0 if c in present else w["bad"][c] == pytest.approx(1 / 3)
    assert len(present) >= 6
