"""The Hessian-vector-probe loss: training never builds a full Hessian.

For Rademacher probes v (E[v vᵀ] = I), E‖(H_pred − H_ref) v‖² = ‖H_pred − H_ref‖²_F, so
``Σ_atoms weight · ‖H_pred v − H_ref v‖²`` with weight 1/((3N)² n_mol) is an unbiased estimate of the
per-element mean squared Hessian error, averaged over the molecules of the batch. One probe costs one
forward-over-reverse HVP (plus its parameter gradient); the gradient (≙ −forces) comes for free from the
linearisation and feeds the optional force term.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from hessfit.model import ModelConfig, make_energy_fn


def _probe_mse(hv, targets, weights):
    """Mean over probes of Σ_atoms weight · ‖H_pred v − H_ref v‖² (hv, targets (K, A, 3); weights (A,))."""
    return jnp.mean(jnp.sum(weights[None, :, None] * (hv - targets) ** 2, axis=(1, 2)))


def _soft_mode_mse(apply_h, soft, weights):
    """The whitened probe loss, an estimate of ‖T (H_pred − H_ref) T‖²_F per element (dimensionless).

    ``apply_h(vectors (K, A, 3)) -> H_pred·vectors``; ``soft`` = `Batch.soft`, whose first three entries are
    (left T (3A, 3A), T·v, T·H_ref·T·v) from `hessfit.train._data.make_batch`; weights as `_probe_mse`.
    """
    left, tv, targets = soft[:3]
    htv = apply_h(tv)
    k = htv.shape[0]
    whitened = (htv.reshape(k, -1) @ left).reshape(htv.shape)  # T symmetric
    return _probe_mse(whitened, targets, weights)


def _per_molecule_coordinate_weights(weights, molecule):
    """(3A,) 1 / n_molecules on the coordinates of Hessian-labelled molecules, 0 elsewhere (from `Batch.weights`,
    which are 1 / ((3N)² n_molecules) per atom, and `Batch.molecule`)."""
    n_atoms = molecule.shape[0]
    counts = jax.ops.segment_sum(jnp.ones(n_atoms, weights.dtype), molecule, num_segments=n_atoms + 1)
    return jnp.repeat(weights * (3.0 * counts[molecule]) ** 2, 3)


def curvature_hinge(h, soft, weights, molecule):
    """Mean over the batch's molecules of Σ relu(−μ)², μ the eigenvalues of M^1/2 T H_pred T M^1/2 (dimensionless).

    ``h`` (3A, 3A): the predicted batch Hessian (block-diagonal over molecules, eV/Å²); ``soft`` = `Batch.soft`
    (its mode basis R); ``weights``, ``molecule``: `Batch.weights`, `Batch.molecule`. For the reference Hessian the
    μ are λ / (λ + λ0) ≥ 0 (a minimum), so the term is zero unless the prediction has negative curvature in the
    vibrational space; a mode of −ν̃ cm⁻¹ gives about μ ≈ −ν̃² / (ν̃_ref² + ν̃0²). Computed as the eigenvalues of
    Rᵀ H_pred R: with R = M^-1/2 U (Λ + λ0)^-1/2, M^1/2 T H T M^1/2 = U (Rᵀ H R) Uᵀ, the same nonzero eigenvalues.
    Molecules without whitener, and padding, contribute nothing.
    """
    from hessfit.modes import safe_eigh

    r = soft[3]
    x = r.T @ h @ r
    mu, v = safe_eigh(0.5 * (x + x.T))
    coord_w = _per_molecule_coordinate_weights(weights, molecule)
    # each μ to its eigenvector's molecule (mode column c belongs to coordinate c's molecule)
    omega = jax.lax.stop_gradient(jnp.sum(v**2 * coord_w[:, None], axis=0))
    return jnp.sum(omega * jax.nn.relu(-mu) ** 2)


def mode_curvature_error(h, soft, weights, molecule, max_cm1):
    """Mean over the batch's molecules of Σ (ρ_i − μ_i)² over the reference modes i below ``max_cm1`` (cm⁻¹).

    ρ_i = r_iᵀ H_pred r_i, with r_i = M^-1/2 u_i / √(λ_i + λ0) (`hessfit.train._data.soft_mode_basis`): the predicted
    curvature along reference mode i relative to its own, μ_i = λ_i / (λ_i + λ0) the reference's. A soft mode of
    20 cm⁻¹ predicted at 80 cm⁻¹ along the same direction costs about 0.33 (floor 100 cm⁻¹). Summed per molecule,
    not averaged over its modes, so a large molecule's soft modes count fully. Inputs as `curvature_hinge`.
    """
    r, mu_ref, nu_ref = soft[3:6]
    rho = jnp.sum(r * (h @ r), axis=0)
    mask = (nu_ref > 0) & (nu_ref < max_cm1)
    coord_w = _per_molecule_coordinate_weights(weights, molecule)  # column c belongs to coordinate c's molecule
    return jnp.sum(jnp.where(mask, coord_w * (rho - mu_ref) ** 2, 0.0))


def ritz_curvature_hinge(apply_h, soft, weights, molecule, block, krylov_steps=1):
    """`curvature_hinge` from Hessian-vector products only (for the energy model, which has no dense Hessian):
    Σ relu(−θ)² over the Ritz values θ of X = Rᵀ H_pred R in a block-Krylov space per molecule.

    The space is span(S, X S, …, X^s S), S the molecule's ``block`` lowest reference modes (unit vectors in X's
    coordinates) and s = ``krylov_steps``; each new block is orthogonalised per molecule against the space so far
    (twice, then orthonormalised). It costs ``block`` × (s + 1) HVPs per batch (``apply_h(vectors (K, A, 3)) ->
    H_pred·vectors``; molecules are disjoint, so one probe serves all of them). Negative curvature of a model
    close to its reference is an outlier of X's spectrum (near 1), so depth finds it faster than width
    (docs/curvature_hinge.md). Ritz values are ≥ X's lowest eigenvalue (interlacing), so this is ≤
    `curvature_hinge`, and equal to it when the space covers all 3N−6 modes. The basis is held fixed in the
    gradient (exact for the Ritz values of that space). Inputs and weighting as `curvature_hinge`.
    """
    from hessfit.modes import safe_eigh

    r, nu_ref = soft[3], soft[5]
    n_atoms = molecule.shape[0]
    n_seg = n_atoms + 1
    coord_mol = jnp.repeat(molecule, 3)
    first = jax.ops.segment_min(jnp.arange(n_atoms), molecule, num_segments=n_seg)
    position = jnp.arange(3 * n_atoms) - 3 * first[coord_mol]  # column's place among its molecule's modes
    sel = ((position[None, :] == jnp.arange(block)[:, None]) & (nu_ref[None, :] > 0)).astype(r.dtype)

    def x_apply(z):  # (k, 3A) whitened coordinates -> rows of X z
        hz = apply_h((z @ r.T).reshape(z.shape[0], n_atoms, 3))
        return hz.reshape(z.shape[0], -1) @ r

    def per_molecule(a, b):  # (k, 3A), (l, 3A) -> (n_seg, k, l): Σ over each molecule's coordinates of a_i b_j
        return jax.ops.segment_sum(jnp.einsum("ic,jc->cij", a, b), coord_mol, num_segments=n_seg)

    def orthonormal(y):  # rows of y orthonormalised within each molecule (null directions dropped to zero)
        g_val, g_vec = jnp.linalg.eigh(per_molecule(y, y))
        keep = g_val > 1e-8 * jnp.maximum(jnp.max(g_val, axis=-1, keepdims=True), 1e-30)
        c = g_vec * jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, g_val, 1.0)), 0.0)[:, None, :]
        return jnp.einsum("jc,cjk->kc", y, c[coord_mol])

    basis, products = [sel], [x_apply(sel)]
    for _ in range(krylov_steps):
        y = jax.lax.stop_gradient(products[-1])
        for _pass in range(2):  # classical Gram–Schmidt, twice, against every block so far
            for b in basis:
                y = y - jnp.einsum("ic,cij->jc", b, per_molecule(b, y)[coord_mol])
        q = jax.lax.stop_gradient(orthonormal(y))
        basis.append(q)
        products.append(x_apply(q))
    a = per_molecule(jnp.concatenate(basis), jnp.concatenate(products))
    theta = jax.vmap(lambda m: safe_eigh(0.5 * (m + m.T))[0])(a)
    mol_w = jax.ops.segment_max(_per_molecule_coordinate_weights(weights, molecule), coord_mol, num_segments=n_seg)
    return jnp.sum(jnp.maximum(mol_w, 0.0) * jnp.sum(jax.nn.relu(-theta) ** 2, axis=1))


#: eigenvalue (eV/Å²/amu) given to the padded mode columns of a frequency slot, above any vibration (≈ 52,000 cm⁻¹)
_PAD_EIGENVALUE = 1.0e4


def slot_hessians(h, index):
    """Each frequency slot's Cartesian Hessian (S, D, D), gathered from the dense batch Hessian ``h`` (3A, 3A)."""
    return h[index[:, :, None], index[:, None, :]]


def slot_hessians_from_columns(hv, index):
    """The same from the batch's Hessian-vector products with unit column probes (`Batch.freq` batches of an
    energy model): ``hv`` (K, A, 3) = H e_k for k < K = D, probe k being column k of every molecule at once."""
    cols = hv.reshape(hv.shape[0], -1)  # (K, 3A): row k = H e_k (all molecules' k-th columns, disjoint blocks)
    return jnp.transpose(cols[:, index], (1, 2, 0))  # (S, D, K): [s, d, k] = H[index[s, d], index[s, k]]


def frequency_terms(hm, freq, floor_eigenvalue):
    """The frequency loss of the frequency-labelled molecules of a batch, from their Cartesian Hessians ``hm``
    (S, D, D) (`slot_hessians`; eV/Å²).

    ``freq`` = `Batch.freq`. Each slot's vibrational Hessian Qᵀ H Q is diagonalised; its ascending eigenvalues
    λ are compared with the reference's ascending λ_ref (sorted matching, as frequencies come without modes).
    Returns (Σ weights·((λ − λ_ref)/(λ_ref + λ0))², Σ weights·|ν̃ − ν̃_ref| (cm⁻¹)): per molecule, the mean over
    its modes of the squared relative curvature error (≈ (2 δν̃/ν̃)² above the floor λ0 = ``floor_eigenvalue``)
    and the mean absolute frequency error, averaged over the batch's molecules. Padded mode columns get
    `_PAD_EIGENVALUE` so that they sort last; eigenvalue derivatives are exact (`safe_eigh`).
    """
    from hessfit.modes import safe_eigh
    from hessfit.units import FREQ_FACTOR_EV_A2

    _, basis, lam_ref, valid, weights = freq
    d = jnp.einsum("sdm,sde,sen->smn", basis, hm, basis)
    d = d + jax.vmap(jnp.diag)(_PAD_EIGENVALUE * (1.0 - valid))
    lam = jax.vmap(lambda a: safe_eigh(0.5 * (a + a.T))[0])(d)
    rel = (lam - lam_ref) / (lam_ref + floor_eigenvalue)
    mse = jnp.sum(weights * rel**2)
    nu = FREQ_FACTOR_EV_A2 * jnp.sign(lam) * jnp.sqrt(jnp.abs(lam) + 1e-12)
    mae = jnp.sum(weights * jnp.abs(nu - FREQ_FACTOR_EV_A2 * jnp.sqrt(lam_ref)))
    return mse, jax.lax.stop_gradient(mae)


def level0_graph(graph, n_elements: int):
    """The graph with every atom's species index mapped to level of theory 0 (`ModelConfig.n_fidelities`)."""
    return dataclasses.replace(graph, species=graph.species % n_elements)


def make_probe_loss_fn(config: ModelConfig, *, force_weight: float = 0.0, soft_mode_weight: float = 0.0,
                       frequency_weight: float = 0.0, frequency_floor_cm1: float = 100.0,
                       curvature_hinge_weight: float = 0.0, curvature_hinge_block: int = 6,
                       curvature_hinge_krylov_steps: int = 1, curvature_hinge_level0: bool = False):
    """``loss(params, positions, graph, probes, targets, weights, molecule=None, soft=None, freq=None) -> (loss,
    aux)``.

    Shapes: positions (A, 3); probes, targets (K, A, 3); weights (A,). ``soft``: `Batch.soft`, needed when
    ``soft_mode_weight`` > 0. ``freq``: `Batch.freq` of a batch whose probes are the K = D unit columns (each
    molecule's full Hessian, `slot_hessians_from_columns`), adding ``frequency_weight`` × `frequency_terms`.
    ``curvature_hinge_weight`` × `ritz_curvature_hinge` (block ``curvature_hinge_block``, depth
    ``curvature_hinge_krylov_steps``; needs ``soft`` and ``molecule``) penalises negative curvature of the
    Hessian-labelled molecules (minima); with ``curvature_hinge_level0`` the HVPs are those of the level-0 Hessian
    (species mapped to level 0; one more linearisation), not of each molecule's own level.
    aux = {"hessian_mse", "force_mse", "soft_mode_mse", "frequency_mse", "frequency_mae_cm1", "curvature_hinge",
    "mode_curvature_error"} (the last always 0 here: it is the block loss's).
    """
    from hessfit.units import FREQ_FACTOR_EV_A2

    grad_fn = jax.grad(make_energy_fn(config), argnums=1)
    floor_eigenvalue = (frequency_floor_cm1 / FREQ_FACTOR_EV_A2) ** 2
    n_elements = len(config.elements)

    def loss(params, positions, graph, probes, targets, weights, molecule=None, soft=None, freq=None):
        grad, lin = jax.linearize(lambda r: grad_fn(params, r, graph), positions)
        hv = jax.vmap(lin)(probes)  # [K, A, 3]
        hessian_mse = _probe_mse(hv, targets, weights)
        n_mol_weight = jnp.where(graph.node_mask, 1.0, 0.0)
        force_mse = jnp.sum(n_mol_weight[:, None] * grad**2) / jnp.maximum(jnp.sum(n_mol_weight) * 3.0, 1.0)
        total = hessian_mse + force_weight * force_mse if force_weight else hessian_mse
        soft_mse = _soft_mode_mse(jax.vmap(lin), soft, weights) if soft is not None else jnp.zeros_like(total)
        if soft_mode_weight:
            total = total + soft_mode_weight * soft_mse
        zero = jnp.zeros_like(total)
        freq_mse, freq_mae = zero, zero
        if freq is not None:
            freq_mse, freq_mae = frequency_terms(slot_hessians_from_columns(hv, freq[0]), freq, floor_eigenvalue)
            total = total + frequency_weight * freq_mse
        hinge = zero
        if curvature_hinge_weight and soft is not None:
            lin_hinge = (jax.linearize(lambda r: grad_fn(params, r, level0_graph(graph, n_elements)), positions)[1]
                         if curvature_hinge_level0 else lin)
            hinge = ritz_curvature_hinge(jax.vmap(lin_hinge), soft, weights, molecule, curvature_hinge_block,
                                         curvature_hinge_krylov_steps)
            total = total + curvature_hinge_weight * hinge
        return total, {"hessian_mse": hessian_mse, "force_mse": force_mse, "soft_mode_mse": soft_mse,
                       "frequency_mse": freq_mse, "frequency_mae_cm1": freq_mae,
                       "curvature_hinge": hinge, "mode_curvature_error": zero}

    return loss


def make_full_hessian_loss_fn(config: ModelConfig):
    """Reference loss on full Hessians (for the speed comparison): mean squared element error of one molecule.

    ``loss(params, positions, graph, hessian)``: positions (A, 3) holding one molecule in its first N rows,
    hessian (3N, 3N).
    """
    energy = make_energy_fn(config)

    def loss(params, positions, graph, hessian):
        n = hessian.shape[0] // 3
        def e_real(r):
            return energy(params, positions.at[:n].set(r), graph)
        h = jax.hessian(e_real)(positions[:n]).reshape(3 * n, 3 * n)
        return jnp.mean((h - hessian) ** 2)

    return loss


def make_block_loss_fn(config: ModelConfig, *, soft_mode_weight: float = 0.0, frequency_weight: float = 0.0,
                       frequency_floor_cm1: float = 100.0, curvature_hinge_weight: float = 0.0,
                       mode_curvature_weight: float = 0.0, mode_curvature_max_cm1: float = 400.0,
                       curvature_hinge_level0: bool = False, mode_curvature_level0: bool = False):
    """The same probe loss for the direct block model (``config.kind == "blocks"``): H·v from the dense predicted
    Hessian. With `column_probes` it is the exact per-element MSE (and the soft-mode term its exact whitened
    form). Signature as `make_probe_loss_fn`'s loss, ``molecule`` (A,) required; ``freq`` (`Batch.freq`) adds
    ``frequency_weight`` × `frequency_terms` (floor ``frequency_floor_cm1``) for frequency-labelled molecules;
    ``curvature_hinge_weight`` × `curvature_hinge` penalises negative curvature of the Hessian-labelled ones (minima;
    needs ``soft``) and ``mode_curvature_weight`` × `mode_curvature_error` the curvature error along their
    reference modes below ``mode_curvature_max_cm1``. ``curvature_hinge_level0``: the hinge takes the level-0
    Hessian of every molecule (species mapped to level 0; one more forward pass), not its own level's;
    ``mode_curvature_level0`` the same for the mode-curvature term, which then fits the level-0 curvature along
    each molecule's reference soft modes to its own level's reference (the xTB curvature at xTB minima)."""
    from hessfit.model import make_direct_hessian_fn
    from hessfit.units import FREQ_FACTOR_EV_A2

    hessian_fn = make_direct_hessian_fn(config)
    floor_eigenvalue = (frequency_floor_cm1 / FREQ_FACTOR_EV_A2) ** 2
    n_elements = len(config.elements)

    def loss(params, positions, graph, probes, targets, weights, molecule, soft=None, freq=None):
        n_atoms = positions.shape[0]
        h = hessian_fn(params, positions, graph, molecule, n_atoms)  # (3A, 3A)

        def apply_h(vectors):
            k = vectors.shape[0]
            return (vectors.reshape(k, -1) @ h).reshape(vectors.shape)  # H symmetric

        hessian_mse = _probe_mse(apply_h(probes), targets, weights)
        soft_mse = _soft_mode_mse(apply_h, soft, weights) if soft is not None else jnp.zeros_like(hessian_mse)
        total = hessian_mse + soft_mode_weight * soft_mse if soft_mode_weight else hessian_mse
        zero = jnp.zeros((), hessian_mse.dtype)
        freq_mse, freq_mae = ((frequency_terms(slot_hessians(h, freq[0]), freq, floor_eigenvalue)
                               if freq is not None else (zero, zero)))
        if frequency_weight:
            total = total + frequency_weight * freq_mse
        needs_level0 = soft is not None and (bool(curvature_hinge_weight and curvature_hinge_level0)
                                             or bool(mode_curvature_weight and mode_curvature_level0))
        h0 = hessian_fn(params, positions, level0_graph(graph, n_elements), molecule, n_atoms) if needs_level0 else h
        if curvature_hinge_weight and soft is not None:
            hinge = curvature_hinge(h0 if curvature_hinge_level0 else h, soft, weights, molecule)
        else:
            hinge = zero
        total = total + curvature_hinge_weight * hinge if curvature_hinge_weight else total
        mode_err = (mode_curvature_error(h0 if mode_curvature_level0 else h, soft, weights, molecule,
                                         mode_curvature_max_cm1)
                    if mode_curvature_weight and soft is not None else zero)
        total = total + mode_curvature_weight * mode_err if mode_curvature_weight else total
        return total, {"hessian_mse": hessian_mse, "force_mse": zero, "soft_mode_mse": soft_mse,
                       "frequency_mse": freq_mse, "frequency_mae_cm1": freq_mae, "curvature_hinge": hinge,
                       "mode_curvature_error": mode_err}

    return loss


def make_loss_fn(config: ModelConfig, *, force_weight: float = 0.0, soft_mode_weight: float = 0.0,
                 frequency_weight: float = 0.0, frequency_floor_cm1: float = 100.0,
                 curvature_hinge_weight: float = 0.0, mode_curvature_weight: float = 0.0,
                 mode_curvature_max_cm1: float = 400.0, curvature_hinge_block: int = 6,
                 curvature_hinge_krylov_steps: int = 1, curvature_hinge_level0: bool = False,
                 mode_curvature_level0: bool = False):
    """The training loss of the model kind: `make_probe_loss_fn` (energy; its curvature hinge is the Rayleigh–Ritz
    `ritz_curvature_hinge`) or `make_block_loss_fn` (blocks: the dense `curvature_hinge`, and the only kind with the
    mode-curvature term)."""
    if config.kind == "blocks":
        return make_block_loss_fn(config, soft_mode_weight=soft_mode_weight, frequency_weight=frequency_weight,
                                  frequency_floor_cm1=frequency_floor_cm1,
                                  curvature_hinge_weight=curvature_hinge_weight,
                                  mode_curvature_weight=mode_curvature_weight,
                                  mode_curvature_max_cm1=mode_curvature_max_cm1,
                                  curvature_hinge_level0=curvature_hinge_level0,
                                  mode_curvature_level0=mode_curvature_level0)
    if mode_curvature_weight:
        raise ValueError("the mode-curvature term needs a direct block model (ModelConfig.kind = 'blocks')")
    return make_probe_loss_fn(config, force_weight=force_weight, soft_mode_weight=soft_mode_weight,
                              frequency_weight=frequency_weight, frequency_floor_cm1=frequency_floor_cm1,
                              curvature_hinge_weight=curvature_hinge_weight,
                              curvature_hinge_block=curvature_hinge_block,
                              curvature_hinge_krylov_steps=curvature_hinge_krylov_steps,
                              curvature_hinge_level0=curvature_hinge_level0)
