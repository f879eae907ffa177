"""An independent, loop-based numpy implementation of the INS formulas (ins-physics.md §2–3, §5),
used only as a reference in tests. Deliberately written differently from hessfit.ins (explicit 3×3
tensors, loops over modes, pairs and triples)."""

from __future__ import annotations

import itertools
import math

import numpy as np

HBAR_OVER_4PI_C = 16.857629  # Å² amu cm⁻¹
HC_KB = 1.4387769  # cm K
K2 = 0.0598343  # Å⁻² per cm⁻¹


def q2(e, ef, theta_deg):
    ki2, kf2 = K2 * (ef + e), K2 * ef
    return ki2 + kf2 - 2 * math.sqrt(ki2 * kf2) * math.cos(math.radians(theta_deg))


def tensors(freqs, vecs, masses, temp, cutoff=10.0):
    n = len(masses)
    a = np.zeros((n, 3, 3))
    bs = {}
    for nu, (w, e) in enumerate(zip(freqs, vecs)):
        if w <= cutoff:
            continue
        coth = 1 / math.tanh(HC_KB * w / (2 * temp))
        for i in range(n):
            outer = np.outer(e[i], e[i]) * HBAR_OVER_4PI_C / (masses[i] * w)
            a[i] += outer * coth
            bs[nu, i] = outer * (coth + 1) / 2
    return a, bs


def order1_sticks(freqs, vecs, masses, xs, temp, ef, theta):
    a, bs = tensors(freqs, vecs, masses, temp)
    out = []
    for nu, w in enumerate(freqs):
        if w <= 10.0:
            continue
        qq = q2(w, ef, theta)
        s = 0.0
        for i in range(len(masses)):
            b = bs[nu, i]
            trb = np.trace(b)
            if trb == 0:
                continue
            alpha = (np.trace(a[i]) + 2 * np.sum(b * a[i].T) / trb) / 5
            s += xs[i] * qq * trb / 3 * math.exp(-qq * alpha)
        out.append((w, s))
    return out


def order2_sticks(freqs, vecs, masses, xs, temp, ef, theta):
    """Unordered pairs: combinations /15, overtones /30 (the exact convention)."""
    a, bs = tensors(freqs, vecs, masses, temp)
    keep = [nu for nu, w in enumerate(freqs) if w > 10.0]
    out = []
    for nu, mu in itertools.combinations_with_replacement(keep, 2):
        e = freqs[nu] + freqs[mu]
        qq = q2(e, ef, theta)
        c = 30.0 if nu == mu else 15.0
        s = 0.0
        for i in range(len(masses)):
            b1, b2 = bs[nu, i], bs[mu, i]
            s += xs[i] * qq**2 * (np.trace(b1) * np.trace(b2) + 2 * np.sum(b1 * b2.T)) / c \
                * math.exp(-qq * np.trace(a[i]) / 3)
        out.append((e, s))
    return out


def order_n_isotropic_sticks(order, freqs, vecs, masses, xs, temp, ef, theta):
    """Fully isotropic order n over ordered n-tuples: σ_i Q^{2n}/n! Π tr B/3 · exp(−Q² tr A/3)."""
    a, bs = tensors(freqs, vecs, masses, temp)
    keep = [nu for nu, w in enumerate(freqs) if w > 10.0]
    out = []
    for tup in itertools.product(keep, repeat=order):
        e = sum(freqs[t] for t in tup)
        qq = q2(e, ef, theta)
        s = 0.0
        for i in range(len(masses)):
            prod = np.prod([np.trace(bs[t, i]) / 3 for t in tup])
            s += xs[i] * qq**order / math.factorial(order) * prod * math.exp(-qq * np.trace(a[i]) / 3)
        out.append((e, s))
    return out
