"""Which normal modes make each calculated peak: order-1 and order-2 stick lists and their shares.

The stick intensities follow ``hessfit/ins/_simulate.py`` exactly (incoherent approximation, powder average,
averaged over the instrument's banks):

* fundamental ν:  Σ_i σ_i Q² b_νi p_νi/3 · exp(−Q² α_νi),  α_νi = [tr A_i + 2 e_νi·A_i·e_νi / p_νi]/5;
* combination ν<μ: Σ_i σ_i Q⁴ b_νi b_μi (p_νi p_μi + 2 (e_νi·e_μi)²)/15 · exp(−Q² tr A_i/3);
* overtone ν=μ: the same with /30;

with b, p, A from `hessfit.ins.mode_tensors` and Q = Q(energy of the transition). Orders ≥ 3 (auto-convolution)
have no stick list; their part of the simulated intensity at a peak is reported as ``higher_order_share``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from hessfit.ins import InsConfig, load_instrument, mode_tensors
from hessfit.structures import cross_sections
from hessfit.units import K2_PER_CM1

#: order-2 pairs are kept only if their intensity exceeds this fraction of the strongest order-2 stick.
ORDER2_REL_CUTOFF = 1e-4


def q2_numpy(energy_cm1, final_energy_cm1: float, angle_deg: float) -> np.ndarray:
    """NumPy twin of `hessfit.ins.q2_indirect` (Q² in Å⁻²), to avoid JAX dispatch in per-row loops."""
    ki2 = K2_PER_CM1 * (final_energy_cm1 + np.maximum(np.asarray(energy_cm1, float), 0.0))
    kf2 = K2_PER_CM1 * final_energy_cm1
    return ki2 + kf2 - 2.0 * np.sqrt(ki2 * kf2) * np.cos(np.deg2rad(angle_deg))


@dataclasses.dataclass(frozen=True, eq=False)
class Sticks:
    """Unbroadened transitions of orders 1 and 2.

    Attributes:
        energy_cm1: (S,) float, transition energy, cm⁻¹.
        intensity: (S,) float, integrated intensity (same arbitrary scale as `hessfit.ins.simulate`).
        order: (S,) int, 1 or 2.
        mode_i: (S,) int, 1-based mode number (matches the ``mode`` coordinate of `simulate`).
        mode_j: (S,) int, second mode (1-based) for order 2, 0 for fundamentals.
    """

    energy_cm1: np.ndarray
    intensity: np.ndarray
    order: np.ndarray
    mode_i: np.ndarray
    mode_j: np.ndarray

    def kind(self, s: int) -> str:
        if self.order[s] == 1:
            return "fundamental"
        return "overtone" if self.mode_i[s] == self.mode_j[s] else "combination"


def stick_spectrum(structure, modes, config: InsConfig | None = None, *, max_order: int | None = None) -> Sticks:
    """Order-1 (and order-2 if ``max_order`` ≥ 2, default ``min(config.max_order, 2)``) sticks of ``modes``.

    Args:
        structure: hessfit.structures.Structure (atomic numbers and masses for the cross sections).
        modes: hessfit.modes.Modes of that structure.
        config: InsConfig (instrument, temperature, cutoff, cross-section kind).
    """
    config = config or InsConfig()
    order_max = min(config.max_order, 2) if max_order is None else max_order
    inst = load_instrument(config.instrument)
    w, b, p, a = (np.asarray(v) for v in mode_tensors(modes, temperature_k=config.temperature_k,
                                                      cutoff_cm1=config.mode_cutoff_cm1))
    e = np.asarray(modes.vectors)
    keep = np.asarray(modes.frequencies_cm1) > config.mode_cutoff_cm1
    xs = cross_sections(structure.numbers, structure.masses, config.cross_section)
    tr_a = np.trace(a, axis1=1, axis2=2)
    e_a_e = np.einsum("mni,nij,mnj->mn", e, a, e)
    ratio = np.where(p > 1e-300, e_a_e / np.where(p > 1e-300, p, 1.0), tr_a[None, :] / 3.0)
    alpha = (tr_a[None, :] + 2.0 * ratio) / 5.0
    n_ang = len(inst.angles_deg)

    # order 1 (Q² and the DW differ per bank: average the intensities)
    i1 = np.zeros(w.shape[0])
    for ang in inst.angles_deg:
        qq = q2_numpy(w, inst.final_energy_cm1, ang)
        i1 += np.sum(xs[None, :] * qq[:, None] * b * p / 3.0 * np.exp(-qq[:, None] * alpha), axis=1) / n_ang
    idx = np.nonzero(keep)[0]
    energies, inten, order, mi, mj = [w[idx]], [i1[idx]], [np.ones(idx.size, int)], [idx + 1], [np.zeros(idx.size, int)]
    if order_max >= 2 and idx.size:
        a_iso = tr_a / 3.0
        for r in idx:
            cols = idx[idx >= r]
            en = w[r] + w[cols]
            d = np.einsum("ni,mni->mn", e[r], e[cols])
            poly = b[r][None, :] * b[cols] * (p[r][None, :] * p[cols] + 2.0 * d * d)
            pref = np.where(cols == r, 1.0 / 30.0, 1.0 / 15.0)
            val = np.zeros(cols.size)
            for ang in inst.angles_deg:
                qq = q2_numpy(en, inst.final_energy_cm1, ang)
                dw = np.exp(-qq[:, None] * a_iso[None, :])
                val += qq * qq * pref * np.sum(xs[None, :] * poly * dw, axis=1) / n_ang
            energies.append(en)
            inten.append(val)
            order.append(np.full(cols.size, 2))
            mi.append(np.full(cols.size, r + 1))
            mj.append(cols + 1)
    out = Sticks(*(np.concatenate(v) for v in (energies, inten, order, mi, mj)))
    two = out.order == 2
    if np.any(two):
        small = two & (out.intensity < ORDER2_REL_CUTOFF * out.intensity[two].max())
        out = Sticks(*(v[~small] for v in (out.energy_cm1, out.intensity, out.order, out.mode_i, out.mode_j)))
    return out


def peak_contributions(peak_energies_cm1, sticks: Sticks, sigma_fn: Callable, *, simulated_total=None,
                       min_share: float = 0.03, max_terms: int = 8) -> list[dict[str, Any]]:
    """Decompose the calculated intensity at each peak position into the sticks (modes) that make it.

    Each stick s contributes I_s · G(E_peak − E_s; σ(E_s)) (its broadened line's value at the peak),
    exactly as the simulator broadens fundamentals. Shares are fractions of the orders-1+2 intensity at the peak.

    Args:
        peak_energies_cm1: (k,) positions of calculated peaks, cm⁻¹.
        sticks: from `stick_spectrum`.
        sigma_fn: resolution σ(E), cm⁻¹ (same as used for the simulation, incl. any resolution scale).
        simulated_total: optional (energy_cm1, intensity) of the full simulated spectrum (all orders); then
            ``higher_order_share`` = 1 − (orders 1+2 at the peak) / (total at the peak).
        min_share: contributions below this share are dropped (their sum is reported as ``other_share``).
        max_terms: at most this many contributions per peak.

    Returns:
        One dict per peak: ``energy_cm1``, ``contributions`` (list of dicts with ``modes`` (tuple of 1-based
        mode numbers), ``kind`` ('fundamental' | 'overtone' | 'combination'), ``order``, ``energy_cm1``,
        ``share``), ``other_share`` and ``higher_order_share`` (NaN without ``simulated_total``).
    """
    peaks = np.atleast_1d(np.asarray(peak_energies_cm1, float))
    sig = np.asarray(sigma_fn(sticks.energy_cm1), float) * np.ones_like(sticks.energy_cm1)
    out = []
    for ep in peaks:
        z = (ep - sticks.energy_cm1) / sig
        g = sticks.intensity * np.exp(-0.5 * z * z) / (np.sqrt(2.0 * np.pi) * sig)
        tot = float(g.sum())
        shares = g / tot if tot > 0 else np.zeros_like(g)
        order_idx = np.argsort(-shares)[:max_terms]
        contribs = []
        for s in order_idx:
            if shares[s] < min_share:
                break
            modes = (int(sticks.mode_i[s]),) if sticks.order[s] == 1 else (int(sticks.mode_i[s]), int(sticks.mode_j[s]))
            contribs.append(dict(modes=modes, kind=sticks.kind(s), order=int(sticks.order[s]),
                                 energy_cm1=float(sticks.energy_cm1[s]), share=float(shares[s])))
        higher = float("nan")
        if simulated_total is not None:
            e_t, y_t = (np.asarray(v, float) for v in simulated_total)
            total_here = float(np.interp(ep, e_t, y_t))
            higher = float(np.clip(1.0 - tot / total_here, 0.0, 1.0)) if total_here > 0 else float("nan")
        out.append(dict(energy_cm1=float(ep), contributions=contribs,
                        other_share=float(max(0.0, 1.0 - sum(c["share"] for c in contribs))),
                        higher_order_share=higher))
    return out
