"""Refinement parametrisations: identities at the seed, physical constraints, exact analytic scalings."""

import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.modes import normal_modes, rigid_body_basis
from hessfit.refine import class_scales, free_elements, global_scale, internal_scales
from tests.helpers import assert_sum_rule


def test_global_scale_scales_frequencies(qm9_molecule):
    s, h = qm9_molecule
    p = global_scale(h)
    h2 = np.asarray(p.apply(jnp.array([0.81])))
    f0, f1 = (np.asarray(normal_modes(s, x).frequencies_cm1) for x in (h, h2))
    assert np.allclose(f1[f0 > 0], 0.9 * f0[f0 > 0], rtol=1e-10)


def test_class_scales_keep_sum_rule_and_symmetry(qm9_molecule):
    s, h = qm9_molecule
    p = class_scales(s, h)
    assert any("C-H 1-2" == n for n in p.names) and any("far" in n or "1-4" in n for n in p.names)
    h1 = np.asarray(p.apply(jnp.asarray(p.init)))
    # at the seed only the diagonal blocks are rebuilt from the sum rule, which the DFT Hessian obeys to ~1e-5
    assert np.max(np.abs(h1 - h)) < 1e-3 * np.max(np.abs(h))
    rng = np.random.default_rng(0)
    h2 = np.asarray(p.apply(jnp.asarray(rng.uniform(0.8, 1.2, p.init.size))))
    assert np.allclose(h2, h2.T, atol=1e-12)
    assert_sum_rule(h2, rtol=1e-12)


def test_class_scales_leave_separate_molecules_uncoupled(qm9_molecule):
    # two copies 40 Å apart (a crystal's molecules made whole): scaled classes couple nothing across, and each copy
    # is scaled as it is alone
    from hessfit.structures import Structure

    s, h = qm9_molecule
    n3 = 3 * s.n_atoms
    pos = np.asarray(s.positions)
    pair = Structure.from_numbers(list(s.numbers) * 2, np.vstack([pos, pos + [40.0, 0, 0]]))
    h_pair = np.zeros((2 * n3, 2 * n3))
    h_pair[:n3, :n3] = h_pair[n3:, n3:] = h
    one, two = class_scales(s, h, grouping="hydrogen"), class_scales(pair, h_pair, grouping="hydrogen")
    assert one.names == two.names
    c = np.random.default_rng(1).uniform(0.7, 1.3, len(one.names))
    got, alone = np.asarray(two.apply(jnp.asarray(c))), np.asarray(one.apply(jnp.asarray(c)))
    assert np.abs(got[:n3, n3:]).max() < 1e-12
    np.testing.assert_allclose(got[:n3, :n3], alone, atol=1e-10)
    np.testing.assert_allclose(got[n3:, n3:], alone, atol=1e-10)


def test_internal_scales_identity_and_uniform_scaling(qm9_molecule):
    """c = 1 returns H0 exactly; c ≡ c0 scales every vibrational frequency by √c0 (B spans all vibrations)."""
    s, h = qm9_molecule
    p = internal_scales(s, h)
    assert set(p.names) >= {"X-H stretch", "X-Y stretch", "bend", "torsion"}
    assert np.allclose(np.asarray(p.apply(jnp.asarray(p.init))), h, atol=1e-10)
    h2 = np.asarray(p.apply(jnp.full(p.init.size, 1.21)))
    f0, f1 = (np.asarray(normal_modes(s, x).frequencies_cm1) for x in (h, h2))
    # B spans the Cartesian complement of rigid-body motion, not the mass-weighted one, so the softest torsions
    # (< 100 cm⁻¹, where the non-stationary DFT geometry's rotational components matter) deviate by ~0.2 %
    assert np.allclose(f1[f0 > 100], 1.1 * f0[f0 > 100], rtol=1e-3)
    assert np.allclose(f1, 1.1 * f0, rtol=1e-2)


def test_internal_scales_xh_stretch_moves_ch_modes_most(qm9_molecule):
    s, h = qm9_molecule
    p = internal_scales(s, h)
    c = np.ones(p.init.size)
    c[p.names.index("X-H stretch")] = 1.1
    f0, f1 = (np.asarray(normal_modes(s, x).frequencies_cm1) for x in (h, np.asarray(p.apply(jnp.asarray(c)))))
    ratio = f1 / f0
    assert ratio[f0 > 2800].mean() == pytest.approx(np.sqrt(1.1), rel=0.01)
    assert np.abs(ratio[(f0 > 100) & (f0 < 1000)] - 1).mean() < 0.01


def test_free_elements_are_rigid_body_free(qm9_molecule):
    s, h = qm9_molecule
    p = free_elements(s, h, prior_strength=2.0)
    assert np.allclose(np.asarray(p.apply(jnp.asarray(p.init))), h)
    x = np.random.default_rng(1).normal(size=p.init.size) * 0.1
    dh = np.asarray(p.apply(jnp.asarray(x))) - h
    rb = rigid_body_basis(s.positions, np.ones(s.n_atoms))
    assert np.max(np.abs(dh @ rb)) < 1e-10 and np.allclose(dh, dh.T)
    assert float(p.prior(jnp.asarray(x))) > 0 and float(p.prior(jnp.asarray(p.init))) == 0


def _block_scaled_by_loops(s, h, xh, heavy):
    """Independent reference: scale off-diagonal 3×3 blocks (×xh if an H takes part, else ×heavy), then
    H_ii = −Σ_{j≠i} H_ij (translational sum rule), symmetrised."""
    n = s.n_atoms
    out = np.array(h, float).copy()
    for i in range(n):
        for j in range(n):
            if i != j:
                f = xh if "H" in (s.symbols[i], s.symbols[j]) else heavy
                out[3 * i:3 * i + 3, 3 * j:3 * j + 3] = f * h[3 * i:3 * i + 3, 3 * j:3 * j + 3]
    for i in range(n):
        d = -sum(out[3 * i:3 * i + 3, 3 * j:3 * j + 3] for j in range(n) if j != i)
        out[3 * i:3 * i + 3, 3 * i:3 * i + 3] = 0.5 * (d + d.T)
    return out


def test_hydrogen_grouped_classes_represent_block_scaling_exactly(qm9_molecule):
    """X–H/X–Y classes are the issue-19 perturbation (X–H blocks ×1.06, heavy ×0.95, sum rule) and its inverse."""
    s, h = qm9_molecule
    p = class_scales(s, h, grouping="hydrogen")
    assert set(p.names) <= {f"{g} {d}" for g in ("X-H", "X-Y") for d in ("1-2", "1-3", "1-4", "far")}
    assert len(p.names) >= 6
    c = np.array([1.06 if n.startswith("X-H") else 0.95 for n in p.names])
    ours = np.asarray(p.apply(jnp.asarray(c)))
    ref = _block_scaled_by_loops(s, h, 1.06, 0.95)
    # the class construction also projects out the translation part the loops leave (P_T H P_T; the float32 DFT
    # Hessian's blocks are not exactly H_ij = H_jiᵀ), a ~2e-4 relative change, 1 % of the perturbation itself
    assert np.max(np.abs(ours - ref)) < 0.01 * np.max(np.abs(ref - h))
    back = np.asarray(class_scales(s, ours, grouping="hydrogen").apply(jnp.asarray(1.0 / c)))
    f0, f1 = (np.asarray(normal_modes(s, x).frequencies_cm1) for x in (h, back))
    assert np.max(np.abs(f1 - f0)) < 0.05  # cm⁻¹: the inverse factors undo it
    with pytest.raises(Exception, match="grouping"):
        class_scales(s, h, grouping="bonds")


def test_crystal_internal_recipe_scales_stretch_and_lattice_exactly():
    """Two C2 dimers per cell: the internal recipe on the intramolecular part plus an intermolecular scale.

    At the seed H0 comes back. The X–Y stretch factor c turns the along-bond stiffness 30 eV/Å² into 30c and
    leaves the across-bond 20 (not an internal coordinate of a dimer) alone; the intermolecular factor s
    multiplies the inter-dimer springs: H(c, s) equals that closed form. d H / d s = H_inter (forward mode vs
    central differences).
    """
    import jax

    from hessfit.refine import make_parametrization
    from tests.ins.crystal_models import dimer_crystal

    s, h_intra, h_inter = dimer_crystal(0.3, shift_atom1=True)  # one dimer across the boundary
    h0 = h_intra + h_inter
    p = make_parametrization("internal", s, h0, bounds=(0.5, 1.5))
    assert p.names == ("X-Y stretch", "intermolecular scale")
    np.testing.assert_allclose(np.asarray(p.apply(jnp.asarray(p.init))), h0, atol=1e-10)
    c, k = 1.2, 1.5
    expected = h_intra.copy()
    for i, j, axis in ((0, 1, 0), (2, 3, 1)):
        for a, b, sign in ((i, i, 1), (j, j, 1), (i, j, -1), (j, i, -1)):
            expected[3 * a + axis, 3 * b + axis] += sign * 30.0 * (c - 1.0)
    np.testing.assert_allclose(np.asarray(p.apply(jnp.array([c, k]))), expected + k * h_inter, atol=1e-10)
    x = jnp.array([1.1, 0.8])
    jac = np.asarray(jax.jacfwd(p.apply)(x))[..., 1]
    eps = 1e-5
    fd = (np.asarray(p.apply(x + jnp.array([0, eps]))) - np.asarray(p.apply(x - jnp.array([0, eps])))) / (2 * eps)
    np.testing.assert_allclose(jac, fd, atol=1e-8)
    np.testing.assert_allclose(jac, h_inter, atol=1e-10)


def test_crystal_free_recipe_keeps_only_the_translations_out():
    """The free recipe on a crystal: Δ projected free of the uniform translations only (a molecule in a crystal
    has no free rotation), H(0) = H0, and the acoustic sum rule holds for any Δ."""
    from hessfit.refine import make_parametrization
    from tests.ins.crystal_models import dimer_crystal

    s, h_intra, h_inter = dimer_crystal(0.3)
    h0 = h_intra + h_inter
    p = make_parametrization("free", s, h0, prior_strength=1.0)
    assert p.names == () and p.kind == "free"
    np.testing.assert_allclose(np.asarray(p.apply(jnp.zeros(p.init.size))), h0, atol=1e-12)
    h = np.asarray(p.apply(jnp.asarray(np.random.default_rng(0).normal(size=p.init.size))))
    assert_sum_rule(h, rtol=1e-10)
    rot = np.zeros((4, 3))
    rot[:, 2] = 1.0
    rot = np.cross(rot, s.positions - s.positions.mean(0)).ravel()  # a rigid rotation of the cell's contents
    assert np.linalg.norm((h - h0) @ rot) > 1e-3  # rotations are not projected out in a crystal
