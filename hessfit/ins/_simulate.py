"""Differentiable INS spectrum of an isolated molecule (incoherent approximation, powder average).

Physics follows ``shared/reference/ins-physics.md`` (Abins / abinslib / OCLIMAX):

* Mode tensors B_νi = ħ/(2 m_i ω_ν) e_νi e_νiᵀ ⟨n_ν+1⟩ and mean-square displacements
  A_i = Σ_ν ħ/(2 m_i ω_ν) e_νi e_νiᵀ coth(ħω_ν/2k_BT); modes below ``mode_cutoff_cm1`` excluded.
* Order 1, almost-isotropic: S = σ_i Q² tr B_νi/3 · exp(−Q² α_νi),
  α_νi = [tr A_i + 2 B_νi:A_i / tr B_νi]/5, Q at the mode energy.
* Order 2, exact powder average of the polynomial part with isotropic Debye–Waller factor:
  combination (ν<μ) σ_i Q⁴ [tr B_ν tr B_μ + 2 B_ν:B_μ]/15 · exp(−Q² tr A_i/3), overtone the same /30.
  This is the "exact" convention of the reference (= OCLIMAX CONV=3); Mantid Abins halves the
  overtones (1/60) and abinslib doubles the combinations (2/15). We sum the uniform expression
  [tr B_ν tr B_μ + 2 B_ν:B_μ]/30 over all *ordered* pairs, which is identical.
* Orders 3..10: fully isotropic auto-convolution (Abins): s_i¹ = Σ_ν tr B_νi/3 δ(ω−ω_ν),
  sⁿ = s¹ ⊗ sⁿ⁻¹, S = σ_i Q²ⁿ/n! exp(−Q² tr A_i/3) s_iⁿ, on a node grid of spacing ``bin_width``.
* Banks: intensities computed per scattering angle (own Q(ω), own Debye–Waller) and averaged.
* Optional OCLIMAX-style phonon wings (Poisson series with a triangular one-phonon wing).
* Gaussian resolution σ(E) evaluated at the stick (source-bin) energy; output is an intensity
  density per cm⁻¹ at bin centres. Order 1 is evaluated per stick (exact); higher orders are
  splatted with linear weights onto the grid (adds a variance ≤ Δ²/4) and broadened by a banded kernel.

Everything is written in jax.numpy, jit-compiles, and is differentiable (reverse mode) with respect to the
Hessian (via `safe_eigh`), the resolution scale and the wing strength; the order-2 kernel
(`_order2.pair_intensities`) has a hand-written reverse rule and no forward-mode rule.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from hessfit.ins._config import InsConfig
from hessfit.ins._instrument import Instrument, load_instrument
from hessfit.ins._kinematics import q2_indirect
from hessfit.ins._order2 import pair_energies, pair_intensities
from hessfit.modes import Modes, modes_from_hessian
from hessfit.units import HC_OVER_KB, ZPA_CONSTANT

# ----------------------------------------------------------------------------- tensors
def mode_tensors(modes: Modes, *, temperature_k: float, cutoff_cm1: float):
    """Per-mode/per-atom factors.

    Returns:
        w: (M,) mode energies, cm⁻¹ (excluded modes set to 1 cm⁻¹; their b is 0).
        b: (M, N) ħ/(2 m_i ω_ν)·⟨n+1⟩ in Å² (0 for excluded modes), so B_νi = b_νi e_νi e_νiᵀ.
        p: (M, N) |e_νi|².
        a_tensor: (N, 3, 3) A_i in Å².
    """
    keep = modes.frequencies_cm1 > cutoff_cm1
    w = jnp.where(keep, modes.frequencies_cm1, 1.0)
    x = 0.5 * HC_OVER_KB * w / temperature_k
    coth = 1.0 / jnp.tanh(x)
    zpa = jnp.where(keep[:, None], ZPA_CONSTANT / (modes.masses[None, :] * w[:, None]), 0.0)
    e = modes.vectors
    a_tensor = jnp.einsum("mn,mni,mnj->nij", zpa * coth[:, None], e, e)
    b = zpa * (0.5 * (coth + 1.0))[:, None]
    p = jnp.sum(e * e, axis=-1)
    return w, b, p, a_tensor


#: modes closer than this (cm⁻¹) form one degenerate group in the order-1 exponent
DEGENERACY_TOL_CM1 = 1e-3


def _order1_sticks(w, b, p, e, a_tensor, sigma_xs, q2_fn):
    """Order-1 intensities (M,) at energies w (one bank).

    The exponent's B:A / tr B depends on the eigenvector's direction inside a degenerate subspace; we
    evaluate it with B summed over each degenerate group (ins-physics.md §1), which makes the result
    exactly invariant to the arbitrary basis chosen by the eigensolver and its derivative well defined.
    """
    tr_a = jnp.trace(a_tensor, axis1=1, axis2=2)
    e_a_e = jnp.einsum("mni,nij,mnj->mn", e, a_tensor, e)
    group = jax.lax.stop_gradient((jnp.abs(w[:, None] - w[None, :]) < DEGENERACY_TOL_CM1).astype(w.dtype))
    num = group @ (b * e_a_e)  # Σ_group B:A
    den = group @ (b * p)  # Σ_group tr B
    den_ok = den > 1e-300
    ratio = jnp.where(den_ok, num / jnp.where(den_ok, den, 1.0), tr_a[None, :] / 3.0)  # B:A / tr B
    alpha = (tr_a[None, :] + 2.0 * ratio) / 5.0
    q2 = q2_fn(w)
    return jnp.sum(sigma_xs[None, :] * q2[:, None] * b * p / 3.0 * jnp.exp(-q2[:, None] * alpha), axis=1)


# ----------------------------------------------------------------------------- grids
def splat(positions, weights, *, origin: float, step: float, n: int):
    """Distribute sticks onto grid points origin + k·step (k < n) with linear weights (differentiable in positions)."""
    x = (positions - origin) / step
    k0 = jnp.floor(x)
    frac = x - k0
    k0 = k0.astype(jnp.int32)
    out = jnp.zeros(n, dtype=weights.dtype)
    out = out.at[k0].add(weights * (1.0 - frac), mode="drop")
    return out.at[k0 + 1].add(weights * frac, mode="drop")


def _fft_conv(a, b, n: int):
    """Linear convolution of the last axes, truncated to n points."""
    size = 2 * n
    return jnp.fft.irfft(jnp.fft.rfft(a, size) * jnp.fft.rfft(b, size), size)[..., :n]


def gaussian_sticks(centres, positions, weights, sigmas):
    """Exact per-stick Gaussians (unit area each) evaluated at ``centres``: density per cm⁻¹."""
    z = (centres[None, :] - positions[:, None]) / sigmas[:, None]
    g = jnp.exp(-0.5 * z * z) / (math.sqrt(2.0 * math.pi) * sigmas[:, None])
    return weights @ g


def banded_broaden(y, sigma, *, step: float, half_width: int):
    """Spread the content of each bin with a Gaussian of the *source* bin's σ (cm⁻¹); returns density per cm⁻¹."""
    n = y.shape[0]
    offsets = jnp.arange(-half_width, half_width + 1)
    idx = jnp.arange(n)[:, None] - offsets[None, :]
    valid = (idx >= 0) & (idx < n)
    idx_c = jnp.clip(idx, 0, n - 1)
    s = sigma[idx_c]
    dist = offsets[None, :] * step
    kern = jnp.exp(-0.5 * (dist / s) ** 2) / (math.sqrt(2.0 * math.pi) * s)
    return jnp.sum(jnp.where(valid, y[idx_c] * kern, 0.0), axis=1)


def _wing_operator(y, q2, a_iso_ext, triangle, n_terms: int, n: int):
    """OCLIMAX-style wings: Σ_k [y·e^{−x} x^k/k!] ⊗ T^{⊗k}, x = Q²·A_ISO/3 at the feature energy."""
    x = q2 * a_iso_ext / 3.0
    base = y * jnp.exp(-x)
    out = base
    term_kernel = triangle
    factor = base
    for k in range(1, n_terms + 1):
        factor = factor * x / k
        out = out + _fft_conv(factor, term_kernel, n)
        term_kernel = _fft_conv(term_kernel, triangle, n)
    return out


# ----------------------------------------------------------------------------- factory
class _Grid:
    """Static grid description (Python floats/ints only)."""

    def __init__(self, config: InsConfig, instrument: Instrument):
        self.step = config.bin_width_cm1
        self.n_out = config.n_bins
        c0, c1, c2 = instrument.resolution_cm1
        e_top = config.e_max_cm1
        sigma_max = (c0 + c1 * e_top + c2 * e_top * e_top) * config.resolution_margin
        self.half_width = int(math.ceil(5.0 * sigma_max / self.step))
        self.pad = self.half_width
        self.origin = config.e_min_cm1 - (self.pad - 0.5) * self.step  # first internal bin centre
        self.n_int = self.n_out + 2 * self.pad
        self.out_centres = config.e_min_cm1 + (np.arange(self.n_out) + 0.5) * self.step
        self.int_centres = self.origin + np.arange(self.n_int) * self.step
        # node grid from 0 for auto-convolution
        self.n_nodes = int(math.ceil((self.int_centres[-1] + self.step) / self.step)) + 1


def make_spectrum_fn(masses, cross_sections_barn, basis, config: InsConfig | None = None):
    """Return a jit-compiled ``fn(hessian, resolution_scale=1.0, wing_a_iso=None) -> (max_order, n_bins)``.

    Args:
        masses: (N,) amu. cross_sections_barn: (N,) barn. basis: (3N, M) internal-coordinate basis
            (``hessfit.modes.internal_basis``). config: InsConfig.

    The returned array holds the spectrum of each order (1..max_order), intensity density per cm⁻¹
    (barn·cm, arbitrary absolute scale, consistent between orders) at the bin centres of the config's grid.
    """
    config = config or InsConfig()
    masses = jnp.asarray(masses, float)
    sigma_xs = jnp.asarray(cross_sections_barn, float)
    basis = jnp.asarray(basis, float)
    core = make_modes_spectrum_fn(config)

    @jax.jit
    def fn(hessian, resolution_scale=1.0, wing_a_iso=None):
        modes = modes_from_hessian(hessian, masses, basis)
        return core(modes, sigma_xs, resolution_scale, wing_a_iso)

    return fn


def make_modes_spectrum_fn(config: InsConfig):
    """Return the pure (un-jitted) ``core(modes, cross_sections_barn, resolution_scale, wing_a_iso)``."""
    instrument = load_instrument(config.instrument)
    grid = _Grid(config, instrument)
    c0, c1, c2 = instrument.resolution_cm1
    angles = instrument.angles_deg
    ef = instrument.final_energy_cm1
    use_wings = config.wing_a_iso > 0
    max_order = config.max_order
    step = grid.step

    def sigma_fn(energy, scale):
        return scale * (c0 + c1 * energy + c2 * energy * energy)

    tri = np.zeros(grid.n_int)
    k = np.arange(grid.n_int) * step
    width = config.wing_width_cm1
    tri_vals = np.clip(1.0 - np.abs(2.0 * k / width - 1.0), 0.0, None)
    tri[:] = tri_vals / tri_vals.sum() if tri_vals.sum() > 0 else 0.0
    triangle = jnp.asarray(tri)
    int_centres = jnp.asarray(grid.int_centres)
    out_centres = jnp.asarray(grid.out_centres)
    nodes = jnp.arange(grid.n_nodes) * step

    def core(modes: Modes, sigma_xs, resolution_scale=1.0, wing_a_iso=None):
        a_ext = config.wing_a_iso if wing_a_iso is None else wing_a_iso
        w, b, p, a_tensor = mode_tensors(modes, temperature_k=config.temperature_k,
                                         cutoff_cm1=config.mode_cutoff_cm1)
        e = modes.vectors
        a_iso = jnp.trace(a_tensor, axis1=1, axis2=2) / 3.0
        n_ang = len(angles)
        gridded = [jnp.zeros(grid.n_int) for _ in range(max_order)]  # internal-grid weights per order
        sticks1_e, sticks1_i = [], []
        if max_order >= 3:
            s1 = jax.vmap(lambda wts: splat(w, wts, origin=0.0, step=step, n=grid.n_nodes), in_axes=1)(b * p / 3.0)
            s_n = [s1]
            for _ in range(2, max_order + 1):
                s_n.append(_fft_conv(s_n[-1], s1, grid.n_nodes))  # s_n[k] = s^(k+1)
        q2_fns = tuple(partial(q2_indirect, final_energy_cm1=ef, angle_deg=angle) for angle in angles)
        if max_order >= 2:  # order-2 sticks of the pairs ν ≤ μ (weights 2/1 folded in), every bank at once
            e2 = pair_energies(w, b.shape[1])  # (K,)
            i2_banks = pair_intensities(q2_fns, w, b, p, e, a_iso, sigma_xs)  # (n_ang, K), hand-written gradient
        for bank, q2_fn in enumerate(q2_fns):
            i1 = _order1_sticks(w, b, p, e, a_tensor, sigma_xs, q2_fn) / n_ang
            q2_int = q2_fn(int_centres)
            per_order = []
            if config.exact_order1 and not use_wings:
                sticks1_e.append(w)
                sticks1_i.append(i1)
                per_order.append(None)
            else:
                per_order.append(splat(w, i1, origin=grid.origin, step=step, n=grid.n_int))
            if max_order >= 2:
                per_order.append(splat(e2, i2_banks[bank] / n_ang, origin=grid.origin, step=step, n=grid.n_int))
            if max_order >= 3:
                q2_nodes = q2_fn(nodes)
                dw_nodes = jnp.exp(-q2_nodes[None, :] * a_iso[:, None])  # (N, nodes)
                for order in range(3, max_order + 1):
                    weighted = jnp.einsum("n,nk->k", sigma_xs, dw_nodes * s_n[order - 1])
                    dens = weighted * q2_nodes ** order / math.factorial(order)
                    per_order.append(jnp.interp(int_centres, nodes, dens) / n_ang)
            for o, y in enumerate(per_order):
                if y is None:
                    continue
                if use_wings:
                    y = _wing_operator(y, q2_int, a_ext, triangle, config.wing_terms, grid.n_int)
                gridded[o] = gridded[o] + y
        sig_int = sigma_fn(int_centres, resolution_scale)
        lo = grid.pad
        result = []
        for o in range(max_order):
            if o == 0 and config.exact_order1 and not use_wings:
                pos = jnp.concatenate(sticks1_e)
                result.append(gaussian_sticks(out_centres, pos, jnp.concatenate(sticks1_i),
                                              sigma_fn(pos, resolution_scale)))
            else:
                broad = banded_broaden(gridded[o], sig_int, step=step, half_width=grid.half_width)
                result.append(broad[lo:lo + grid.n_out])
        return jnp.stack(result)

    core.energies_cm1 = grid.out_centres
    return core


def make_order1_intensity_fn(config: InsConfig):
    """Return ``fn(modes, cross_sections_barn) -> (M,)`` order-1 stick intensities averaged over banks."""
    instrument = load_instrument(config.instrument)

    def fn(modes: Modes, sigma_xs):
        w, b, p, a_tensor = mode_tensors(modes, temperature_k=config.temperature_k, cutoff_cm1=config.mode_cutoff_cm1)
        total = 0.0
        for angle in instrument.angles_deg:
            q2_fn = partial(q2_indirect, final_energy_cm1=instrument.final_energy_cm1, angle_deg=angle)
            total = total + _order1_sticks(w, b, p, modes.vectors, a_tensor, sigma_xs, q2_fn)
        return total / len(instrument.angles_deg)

    return fn
