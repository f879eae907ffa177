"""Ensembles weighted per atom-pair class: closed forms on spring Hessians, equivariance, crystals, files."""

import dataclasses
import json

import numpy as np
import pytest

from hessfit.errors import InputFormatError
from hessfit.model import Ensemble, load_model, predict_hessian, predict_hessians, save_ensemble
from hessfit.model import PAIR_CLASSES, combine_by_class, pair_class_index
from hessfit.structures import Structure
from tests.helpers import assert_sum_rule
from tests.model.test_hessian import _molecule

# ethanol, C1 C2 O3, H4-6 on C1, H7-8 on C2, H9 on O3 (Å)
ETHANOL = Structure.from_numbers(
    [6, 6, 8, 1, 1, 1, 1, 1, 1],
    np.array([[-1.2, -0.4, 0.0], [0.1, 0.4, 0.0], [1.2, -0.5, 0.0], [-2.1, 0.2, 0.0], [-1.2, -1.0, 0.9],
              [-1.2, -1.0, -0.9], [0.1, 1.0, 0.9], [0.1, 1.0, -0.9], [2.0, 0.0, 0.0]]), name="ethanol")


def spring_hessian(positions, k):
    """Hessian (3N, 3N) of central springs k_ij (symmetric, eV/Å²) at their rest lengths: H_ij = −k_ij ûûᵀ,
    H_ii = Σ_j k_ij ûûᵀ (sum rule, rotational invariance: the closed form)."""
    n = len(positions)
    h = np.zeros((n, 3, n, 3))
    for i in range(n):
        for j in range(n):
            if i != j:
                u = positions[j] - positions[i]
                u /= np.linalg.norm(u)
                h[i, :, j, :] = -k[i, j] * np.outer(u, u)
                h[i, :, i, :] += k[i, j] * np.outer(u, u)
    return h.reshape(3 * n, 3 * n)


def random_springs(rng, n):
    k = rng.uniform(0.1, 5.0, (n, n))
    return k + k.T


def test_pair_classes_of_ethanol():
    idx = pair_class_index(ETHANOL)
    name = {(i, j): PAIR_CLASSES[idx[i, j]] for i in range(9) for j in range(9) if i != j}
    assert np.all(np.diag(idx) == -1) and np.array_equal(idx, idx.T)
    assert name[0, 1] == "X-Y 1-2" and name[0, 2] == "X-Y 1-3"       # C–C bond, C···O
    assert name[0, 3] == "X-H 1-2" and name[3, 4] == "X-H 1-3"       # C–H, geminal H···H
    assert name[3, 6] == "X-H 1-4" and name[3, 8] == "X-H far"       # vicinal H···H, H(C1)···H(O)
    assert name[2, 3] == "X-H 1-4"                                   # O···H(C1)


def test_class_weights_mix_springs_class_by_class():
    # closed form: members with springs k_A, k_B give the Hessian of springs Σ_m w_m,class(ij) k_m,ij
    rng = np.random.default_rng(0)
    pos = np.asarray(ETHANOL.positions)
    idx = pair_class_index(ETHANOL)
    ka, kb = random_springs(rng, 9), random_springs(rng, 9)
    wa = rng.uniform(0, 1, len(PAIR_CLASSES))
    got = combine_by_class([spring_hessian(pos, ka), spring_hessian(pos, kb)], idx, [wa, 1 - wa])
    k_mix = np.where(idx >= 0, wa[np.clip(idx, 0, None)] * ka + (1 - wa[np.clip(idx, 0, None)]) * kb, 0)
    np.testing.assert_allclose(got, spring_hessian(pos, k_mix), atol=1e-12)
    # equal weights in every class: the plain weighted mean
    flat = combine_by_class([spring_hessian(pos, ka), spring_hessian(pos, kb)], idx,
                            [np.full(8, 0.3), np.full(8, 0.7)])
    np.testing.assert_allclose(flat, 0.3 * spring_hessian(pos, ka) + 0.7 * spring_hessian(pos, kb), atol=1e-12)


def test_combination_is_symmetric_obeys_the_sum_rule_and_is_equivariant():
    # members that are not sum-rule springs along bonds (generic symmetric blocks obeying the sum rule)
    rng = np.random.default_rng(1)
    n = 9
    idx = pair_class_index(ETHANOL)
    members = []
    for _ in range(2):
        a = rng.normal(size=(n, 3, n, 3))
        a = a + a.transpose(2, 3, 0, 1)
        a[np.arange(n), :, np.arange(n), :] = 0
        a[np.arange(n), :, np.arange(n), :] = -a.sum(axis=2)
        members.append(a.reshape(3 * n, 3 * n))
    w = rng.uniform(0, 1, 8)
    got = combine_by_class(members, idx, [w, 1 - w])
    np.testing.assert_allclose(got, got.T, atol=1e-12)
    assert_sum_rule(got, rtol=1e-12)
    # rotating the members rotates the result (the classes depend only on the bond graph)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    big = np.kron(np.eye(n), q)
    rotated = Structure.from_numbers(ETHANOL.numbers, np.asarray(ETHANOL.positions) @ q.T)
    assert np.array_equal(pair_class_index(rotated), idx)
    got_rot = combine_by_class([big @ m @ big.T for m in members], pair_class_index(rotated), [w, 1 - w])
    np.testing.assert_allclose(got_rot, big @ got @ big.T, atol=1e-12)


def test_a_bond_across_the_cell_boundary_is_a_bond():
    # ethanol wrapped into a 6 Å cell so that H4 sits across the x boundary from its C1
    pos = (np.asarray(ETHANOL.positions) + [1.25, 3.0, 3.0]) % 6.0
    crystal = dataclasses.replace(Structure.from_numbers(ETHANOL.numbers, pos), cell=np.eye(3) * 6.0,
                                  pbc=np.ones(3, bool))
    assert crystal.is_crystal and np.linalg.norm(pos[3] - pos[0]) > 4
    np.testing.assert_array_equal(pair_class_index(crystal), pair_class_index(ETHANOL))


def test_saved_class_ensemble_predicts_the_class_combination(members):
    root, energy, blocks = members
    rows = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]]
    save_ensemble(root / "classmix", ["../energy", "../blocks"], [0.45, 0.55], class_weights=rows)
    doc = json.loads((root / "classmix" / "model.json").read_text())
    assert doc["members"][0]["class_weights"]["X-H 1-4"] == 0.3
    mix = load_model(root / "classmix")
    assert isinstance(mix, Ensemble) and mix.class_weights == tuple(map(tuple, rows))
    mol = _molecule(seed=7)
    (got,) = predict_hessians([mol], mix)
    e, b = predict_hessian(mol, energy), predict_hessian(mol, blocks)
    np.testing.assert_allclose(got, combine_by_class([e, b], pair_class_index(mol), rows), atol=1e-12)
    assert np.abs(got - (0.45 * e + 0.55 * b)).max() > 1e-4  # the classes matter
    assert_sum_rule(got, rtol=1e-9)


def test_molecules_that_do_not_interact_stay_uncoupled():
    # two ethanols 30 Å apart, members with no blocks between them: the class mix couples nothing across, and each
    # molecule on its own obeys the sum rule (a rigid shift of one costs no force)
    rng = np.random.default_rng(2)
    pos = np.asarray(ETHANOL.positions)
    pair = Structure.from_numbers(list(ETHANOL.numbers) * 2, np.vstack([pos, pos + [30.0, 0, 0]]))
    idx = pair_class_index(pair)
    members = []
    for _ in range(2):
        h = np.zeros((54, 54))
        h[:27, :27] = spring_hessian(pos, random_springs(rng, 9))
        h[27:, 27:] = spring_hessian(pos, random_springs(rng, 9))
        members.append(h)
    w = rng.uniform(0, 1, 8)
    got = combine_by_class(members, idx, [w, 1 - w])
    assert np.abs(got[:27, 27:]).max() < 1e-12 and np.abs(got[27:, :27]).max() < 1e-12
    for part in (slice(0, 27), slice(27, 54)):
        assert_sum_rule(got[part, part], rtol=1e-12)
        np.testing.assert_allclose(got[part, part], combine_by_class([m[part, part] for m in members],
                                                                     pair_class_index(ETHANOL), [w, 1 - w]),
                                   atol=1e-12)


def _write_ensemble(root, entries):
    ens = root / "badclass"
    ens.mkdir(exist_ok=True)
    members_doc = [{"model": f"../{m}", "weight": 0.5, "class_weights": cw} for m, cw in zip(("energy", "blocks"),
                                                                                              entries)]
    (ens / "model.json").write_text(json.dumps({"format": "hessfit-ensemble-1", "members": members_doc}))
    return ens


@pytest.mark.parametrize("entries, message", [
    ([dict.fromkeys(PAIR_CLASSES, 0.5), {**dict.fromkeys(PAIR_CLASSES, 0.5), "X-H 1-4": 0.6}],
     "class X-H 1-4: ensemble weights must be finite, >= 0 and sum to 1"),
    ([dict.fromkeys(PAIR_CLASSES[:7], 0.5)] * 2, "must name the classes"),
    ([dict.fromkeys(PAIR_CLASSES, 0.5), dict.fromkeys(PAIR_CLASSES, "half")], "class weights must be numbers"),
    ([dict.fromkeys(PAIR_CLASSES, 0.5), None], "class_weights are given for some members and not for others"),
])
def test_bad_class_weights_are_one_line_errors(members, entries, message):
    root, *_ = members
    with pytest.raises(InputFormatError) as err:
        load_model(_write_ensemble(root, entries))
    assert "model.json" in str(err.value) and "\n" not in str(err.value) and message in str(err.value)


def test_class_weights_need_one_row_of_eight_per_member(members):
    _, energy, blocks = members
    with pytest.raises(ValueError, match="one row of 8 per member"):
        Ensemble((energy, blocks), (0.5, 0.5), class_weights=[[0.5] * 7, [0.5] * 7])
