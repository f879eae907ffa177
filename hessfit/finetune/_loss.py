"""The fine-tuning objective: spectral losses of model Hessians against measured spectra, plus regularisers.

Gradient path: the entries are packed into padded graphs (`hessfit.model.pack`); ``make_hessian_fn`` gives all
3N Hessian columns of every molecule in a graph at once (forward-over-reverse HVPs). Each entry's spectral loss is
differentiated with respect to those columns (cheap: eigenproblem + INS simulation, compiled per entry shape),
and the summed column cotangent is pulled back to the trainable parameters with one `jax.vjp` of the column
function per graph (reverse over forward over reverse). Frozen parameters are constants in that pull-back.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from hessfit.errors import ValidationError
from hessfit.finetune._config import FinetuneConfig, SpectrumEntry

# ----------------------------------------------------------------------------------------------- parameter masks

#: floor of the fitted intensity scale, as a fraction of the scale that matches the norms (as in refine)
MIN_SCALE_FRACTION = 0.01


def trainable_mask(params: dict, trainable: str, n_layers: int) -> dict:
    """Boolean tree like ``params``: True for the leaves that ``trainable`` ('readout', 'last_layer', 'all') trains.

    'readout' = ``readout`` weights and the per-element ``energy_scale``/``energy_shift``; 'last_layer' adds
    ``layer_{n_layers-1}``; 'all' is every parameter.
    """
    groups = {"readout": {"readout", "energy_scale", "energy_shift"}}
    groups["last_layer"] = groups["readout"] | {f"layer_{n_layers - 1}"}
    inner = params["params"]

    def top(name):
        return trainable == "all" or name in groups[trainable]

    mask = {"params": {k: jax.tree_util.tree_map(lambda _, t=top(k): t, v) for k, v in inner.items()}}
    return mask


def split_params(params, mask):
    """(trainable leaves, frozen leaves, layout); ``merge(train, frozen, layout)`` rebuilds the tree.

    ``layout`` (treedef, trainable leaf indices, leaf count) is hashable: it is a static jit argument."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    m = jax.tree_util.tree_leaves(mask)
    if len(m) != len(leaves):
        raise ValidationError("parameter mask does not match the parameter tree")
    idx = tuple(i for i, t in enumerate(m) if t)
    train = [leaves[i] for i in idx]
    frozen = [leaves[i] for i in range(len(leaves)) if i not in idx]
    return train, frozen, (treedef, idx, len(leaves))


def merge(train, frozen, layout):
    treedef, idx, n = layout
    t, f = iter(train), iter(frozen)
    pos = set(idx)
    return jax.tree_util.tree_unflatten(treedef, [next(t) if i in pos else next(f) for i in range(n)])


def full_grads(grads_t, params, layout):
    """A gradient tree like ``params``: ``grads_t`` on the trainable leaves, zeros elsewhere."""
    treedef, idx, n = layout
    leaves = [jnp.zeros_like(a) for a in jax.tree_util.tree_leaves(params)]
    for i, g in zip(idx, grads_t):
        leaves[i] = g
    return jax.tree_util.tree_unflatten(treedef, leaves)


def param_l2(params, params0, mask):
    """‖θ_T − θ0_T‖² / ‖θ0_T‖² over the trainable leaves, and its gradient (a full tree, 0 on frozen leaves)."""
    num, den = 0.0, 0.0
    for p, p0, m in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(params0),
                        jax.tree_util.tree_leaves(mask)):
        if m:
            d = np.asarray(p, np.float64) - np.asarray(p0, np.float64)
            num += float(np.sum(d * d))
            den += float(np.sum(np.asarray(p0, np.float64) ** 2))
    den = max(den, 1e-30)
    grad = jax.tree_util.tree_map(lambda p, p0, m: (2.0 / den) * (jnp.asarray(p) - jnp.asarray(p0)) * m,
                                  params, params0, mask)
    return num / den, grad


# ----------------------------------------------------------------------------------------------- spectra


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedEntry:
    """One structure + measured spectrum, preprocessed as `hessfit refine` does (window, baseline, ranks)."""

    name: str
    structure: object
    energy: np.ndarray  # (n,) cm⁻¹ inside the window
    y: np.ndarray  # (n,) baseline-subtracted measurement
    y_raw: np.ndarray  # (n,) as measured
    ranks: np.ndarray  # (n,) ranks of y
    poly: np.ndarray  # (n, background_degree + 1) background columns (may be (n, 0))
    ins_config: object
    weight: float
    resolution_scale: float
    species: np.ndarray
    masses: np.ndarray
    cross_sections: np.ndarray
    basis: np.ndarray


def prepare_entry(structure, measured, entry: SpectrumEntry, config: FinetuneConfig, *, elements) -> PreparedEntry:
    """Window, baseline-subtract and rank ``measured`` (MeasuredSpectrum) for ``structure`` (Structure)."""
    from scipy.stats import rankdata

    from hessfit.ins import InsConfig
    from hessfit.model import species_index
    from hessfit.modes import internal_basis
    from hessfit.refine import bernstein_basis, simulation_range_cm1, window_spectrum
    from hessfit.structures import cross_sections

    name = entry.name or getattr(structure, "name", "molecule")
    energy, y_raw, y, _ = window_spectrum(measured, entry.e_min_cm1, entry.e_max_cm1,
                                          subtract_baseline=config.subtract_baseline,
                                          baseline_degree=config.baseline_degree,
                                          source=getattr(measured, "source", "") or name)
    lo, hi = simulation_range_cm1(energy)
    ins = InsConfig(instrument=entry.instrument, temperature_k=entry.temperature_k, max_order=entry.max_order,
                    e_min_cm1=lo, e_max_cm1=hi, bin_width_cm1=config.bin_width_cm1,
                    resolution_margin=max(1.0, entry.resolution_scale))
    poly = bernstein_basis(energy, config.background_degree)  # non-negative columns
    return PreparedEntry(
        name=name, structure=structure, energy=energy, y=y, y_raw=y_raw, ranks=rankdata(y), poly=poly,
        ins_config=ins, weight=float(entry.weight), resolution_scale=float(entry.resolution_scale),
        species=species_index(structure.numbers, elements, name=name), masses=np.asarray(structure.masses, float),
        cross_sections=np.asarray(cross_sections(structure.numbers, structure.masses, ins.cross_section), float),
        basis=np.asarray(internal_basis(structure.positions, structure.masses)))


@functools.lru_cache(maxsize=32)
def _entry_fns(ins_config):
    """Jitted value_and_grad of one entry's spectral loss w.r.t. the packed Hessian columns."""
    from hessfit.ins import make_modes_spectrum_fn
    from hessfit.modes import modes_from_hessian
    from hessfit.refine import l2_loss, positive_nuisance_fit, soft_spearman

    core = make_modes_spectrum_fn(ins_config)
    centres = jnp.asarray(core.energies_cm1)

    def loss(cols, offset, masses, xs, basis, energy, y, ranks, poly, softness, resolution, w_spearman, w_l2):
        n = masses.shape[0]
        n3 = 3 * n
        block = jax.lax.dynamic_slice(cols, (0, offset, 0), (n3, n, 3))  # block[k, i, a] = (H e_k)_(i,a)
        h = block.reshape(n3, n3).T.astype(jnp.float64)
        h = 0.5 * (h + h.T)
        modes = modes_from_hessian(h, masses, basis)
        spec = core(modes, xs, resolution, None).sum(0)
        s = jnp.interp(energy, centres, spec)
        design = jnp.concatenate([s[:, None], poly], axis=1)
        # intensity scale > 0 (a floor of MIN_SCALE_FRACTION of the norm-matching scale), background ≥ 0
        floor = MIN_SCALE_FRACTION * jnp.linalg.norm(y) / (jnp.linalg.norm(s) + 1e-300)
        lower = jnp.concatenate([floor[None], jnp.zeros(poly.shape[1])])
        model = design @ positive_nuisance_fit(design, y, lower)
        rho = soft_spearman(model, ranks, softness)
        total = w_spearman * (1.0 - rho) + w_l2 * l2_loss(model, y)
        return total, (rho, model, modes.frequencies_cm1)

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


@dataclasses.dataclass
class _Pack:
    batch: object  # PackedBatch
    positions: jnp.ndarray
    members: list  # entry indices


class SpectralTerm:
    """Σ_e w_e ℓ_e / Σ_e w_e over prepared entries, packed into padded graphs of one common shape."""

    def __init__(self, model_config, entries: list[PreparedEntry], *, max_atoms_per_pack: int = 160,
                 chunk_size: int | None = None):
        from hessfit.model import bucket_atoms, bucket_edges, column_ids, group_by_size, neighbour_pairs, pack

        self.config = model_config
        self.entries = entries
        self.weight_sum = max(sum(e.weight for e in entries), 1e-30)
        pairs = [neighbour_pairs(e.structure.positions, model_config.cutoff_angstrom) for e in entries]
        groups = group_by_size([len(e.species) for e in entries], max_atoms_per_pack)
        # one padded shape for every pack: one compilation of the column function and its pull-back
        a_pad = max(bucket_atoms(sum(len(entries[i].species) for i in g) + 1) for g in groups)
        e_pad = max(bucket_edges(sum(len(pairs[i][0]) for i in g)) for g in groups)
        # default: all columns in one vmapped chunk (small molecules; compiles faster than lax.map over chunks)
        max_n = max(len(e.species) for e in entries)
        self.column_ids = column_ids(max_n, chunk_size=chunk_size or 3 * bucket_atoms(max_n))
        self.packs = []
        for g in groups:
            b = pack([entries[i].species for i in g], [entries[i].structure.positions for i in g],
                     cutoff_angstrom=model_config.cutoff_angstrom, n_atoms_pad=a_pad, n_edges_pad=e_pad,
                     pairs_list=[pairs[i] for i in g])
            self.packs.append(_Pack(b, jnp.asarray(b.positions, model_config.dtype), g))
        self._columns = _jitted_columns(model_config)
        self._args = [self._entry_args(i) for i in range(len(entries))]

    def _entry_args(self, i):
        e = self.entries[i]
        return (jnp.asarray(e.masses), jnp.asarray(e.cross_sections), jnp.asarray(e.basis), jnp.asarray(e.energy),
                jnp.asarray(e.y), jnp.asarray(e.ranks, float), jnp.asarray(e.poly, float))

    def _offset(self, p: _Pack, i: int) -> int:
        return int(p.batch.atom_offsets[p.members.index(i)])

    def _run(self, params, mask, softness, w_spearman, w_l2, *, grad: bool):
        """Loss, per-entry (soft rho, fitted model, frequencies) and (if grad) the gradient tree."""
        train, frozen, layout = split_params(params, mask)
        total = 0.0
        aux = [None] * len(self.entries)
        grads_t = None
        ids = self.column_ids
        for p in self.packs:
            def cols_of(t, p=p):
                return self._columns(merge(t, frozen, layout), p.positions, p.batch.graph, p.batch.slot, ids)

            # the value path uses the same compiled forward as the gradient path (one compilation, not two)
            cols, pullback = jax.vjp(cols_of, train)
            cot = jnp.zeros_like(cols)
            for i in p.members:
                e = self.entries[i]
                args = (cols, self._offset(p, i), *self._args[i], softness, e.resolution_scale, w_spearman, w_l2)
                w = e.weight / self.weight_sum
                (val, a), g = _entry_fns(e.ins_config)(*args)
                cot = cot + w * g
                total += w * float(val)
                aux[i] = a
            if grad:
                (g_t,) = pullback(cot)
                grads_t = g_t if grads_t is None else [x + y for x, y in zip(grads_t, g_t)]
        return total, aux, (full_grads(grads_t, params, layout) if grad else None)

    def value(self, params, mask, softness, w_spearman=1.0, w_l2=0.0):
        return self._run(params, mask, softness, w_spearman, w_l2, grad=False)[:2]

    def value_and_grad(self, params, mask, softness, w_spearman=1.0, w_l2=0.0):
        return self._run(params, mask, softness, w_spearman, w_l2, grad=True)

    def hessians(self, params) -> list[np.ndarray]:
        """Model Hessians (3N, 3N) float64 of the entries."""
        out = [None] * len(self.entries)
        for p in self.packs:
            cols = np.asarray(self._columns(params, p.positions, p.batch.graph, p.batch.slot, self.column_ids),
                              np.float64)
            for j, i in enumerate(p.members):
                a, b = p.batch.atom_offsets[j], p.batch.atom_offsets[j + 1]
                n3 = 3 * int(b - a)
                h = cols[:n3, a:b, :].reshape(n3, n3).T
                out[i] = 0.5 * (h + h.T)
        return out


@functools.lru_cache(maxsize=8)
def _jitted_columns(model_config):
    from hessfit.model import make_hessian_fn

    return jax.jit(make_hessian_fn(model_config))


# ----------------------------------------------------------------------------------------------- replay


class ReplayTerm:
    """MSE_replay(θ) / MSE_replay(θ0): the training Hessian-vector-probe loss on a fixed subset of the training
    split, one padded batch per step (cycling), probes drawn from (seed, step); normalised by its value at θ0
    (mean over all batches with fixed probes)."""

    def __init__(self, model_config, dataset, indices, params0, mask, *, batch_atoms: int = 200, probes: int = 2,
                 seed: int = 0):
        from hessfit.train import batch_shapes, plan_batches, prepare

        self.config = model_config
        self.mols = prepare(dataset, indices, elements=model_config.elements,
                            cutoff_angstrom=model_config.cutoff_angstrom)
        self.shapes = batch_shapes(self.mols, batch_atoms)
        self.plan = plan_batches(self.mols, np.arange(len(self.mols)), self.shapes, batch_atoms)
        self.probes, self.seed = probes, seed
        self.dtype = np.dtype(model_config.dtype)
        self._fn = _replay_fns(model_config)
        self.reference = 1.0
        ref = [self._mse(params0, k, np.random.default_rng([seed, 99991, k])) for k in range(len(self.plan))]
        self.reference = float(np.mean(ref))

    def _batch(self, k, rng):
        from hessfit.train import make_batch

        return make_batch(self.mols, self.plan[k % len(self.plan)], self.shapes, n_probes=self.probes, rng=rng,
                          dtype=self.dtype)

    def _mse(self, params, k, rng):
        b = self._batch(k, rng)
        value_fn, _ = self._fn
        return float(value_fn(params, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule)[1]["hessian_mse"])

    def value(self, params, step: int) -> float:
        return self._mse(params, step, np.random.default_rng([self.seed, step])) / self.reference

    def value_and_grad(self, params, mask, step: int):
        b = self._batch(step, np.random.default_rng([self.seed, step]))
        train, frozen, layout = split_params(params, mask)
        _, vg = self._fn
        (val, _), g = vg(train, frozen, layout, b.positions, b.graph, b.probes, b.targets, b.weights, b.molecule)
        return float(val) / self.reference, jax.tree_util.tree_map(lambda x: x / self.reference,
                                                                   full_grads(g, params, layout))


@functools.lru_cache(maxsize=4)
def _replay_fns(model_config):
    from hessfit.train import make_loss_fn

    loss = make_loss_fn(model_config)
    value = jax.jit(loss)

    @functools.partial(jax.jit, static_argnums=2)
    def vg(train, frozen, layout, positions, graph, probes, targets, weights, molecule):
        return jax.value_and_grad(lambda t: loss(merge(t, frozen, layout), positions, graph, probes, targets, weights,
                                                 molecule), has_aux=True)(train)

    return value, vg
