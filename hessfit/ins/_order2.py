"""Order-2 (overtone + combination) stick intensities with a hand-written reverse-mode rule.

For every mode pair (ν, μ), energy E = ω_ν + ω_μ, and every bank β (own Q²_β(E)):

    I_β(ν, μ) = Q⁴/30 · Σ_i σ_i b_νi b_μi [p_νi p_μi + 2 (e_νi·e_μi)²] · exp(−Q² a_i)

with b = ħ/(2mω)⟨n+1⟩ (Å², (M, N)), p = |e|², σ the cross section (barn), a = tr A/3 (Å²). Both I and E are
symmetric in (ν, μ), so only the unordered pairs ν ≤ μ are evaluated, with weight 2 (ν < μ) or 1 (ν = μ):
summed (splatted) over the sticks this equals the sum over all ordered pairs, at half the cost.

Static-shape layout: the modes are padded to n_blocks · R (R rows per block) and the upper block triangle
is cut into T = n_blocks (n_blocks + 1) / 2 tiles (k, l), k ≤ l, of R × R pairs (rows from block k, columns
from block l). Tiles are processed G at a time (`lax.map` / `lax.scan`, each step an (G, R, R, N) work array
of ≈ BLOCK_ELEMENTS elements, cache-sized); the tile list is padded to a multiple of G with dummy tiles
(k, l) = (n_blocks − 1, 0) whose pairs all have ν > μ, i.e. weight 0. Weights (0 for ν > μ inside diagonal
tiles, for padded modes and for dummy tiles) are folded into the returned intensities, so the sticks are
flat arrays of length K = T_pad · R² (`pair_energies` gives the matching energies, `pair_intensities` the
(n_banks, K) weighted intensities).

The work is an (M × M × N)/2 array per bank; XLA's automatic transpose of it materialises many such arrays
and costs ~10× the forward pass on CPU. The rule below recomputes the shared factors per tile group,
shares the polynomial part between banks and accumulates the per-mode cotangents of the row and column
modes of each tile with scatter-adds into per-block accumulators.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

#: target number of elements per (tiles × R × R × atoms) work array of one step (≈ 160 kB in float64)
BLOCK_ELEMENTS = 20_000
#: target number of elements of one (R × R × atoms) tile (sets R; several tiles form one step: measured
#: faster than one large tile per step for the backward pass)
TILE_ELEMENTS = 5_000


def _layout(m: int, n: int):
    """Static tiling: (R, n_blocks, G, kk (n_steps, G), ll (n_steps, G)) as numpy int32 arrays."""
    r0 = max(1, min(m, math.isqrt(max(1, TILE_ELEMENTS // max(1, n)))))
    n_blocks = -(-m // r0)
    rows = -(-m // n_blocks)  # balanced: least padding for this number of blocks
    kk, ll = np.triu_indices(n_blocks)
    n_tiles = kk.size
    group = max(1, min(n_tiles, BLOCK_ELEMENTS // max(1, rows * rows * n)))
    n_steps = -(-n_tiles // group)
    pad = n_steps * group - n_tiles  # > 0 only if n_tiles ≥ 2, i.e. n_blocks ≥ 2
    kk = np.concatenate([kk, np.full(pad, n_blocks - 1)]).astype(np.int32).reshape(n_steps, group)
    ll = np.concatenate([ll, np.zeros(pad, dtype=ll.dtype)]).astype(np.int32).reshape(n_steps, group)
    return rows, n_blocks, group, kk, ll


def _pad_blocks(x, n_blocks: int, rows: int, fill=0.0):
    pad = n_blocks * rows - x.shape[0]
    x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1), constant_values=fill)
    return x.reshape((n_blocks, rows) + x.shape[1:])


def _weights(k, l, rows: int, m: int, dtype):
    """(G, R, R) pair weights: 2 (ν < μ), 1 (ν = μ), 0 (ν > μ or padded mode)."""
    r = jnp.arange(rows, dtype=jnp.int32)
    nu = k[:, None, None] * rows + r[None, :, None]
    mu = l[:, None, None] * rows + r[None, None, :]
    wt = jnp.where(nu < mu, 2.0, jnp.where(nu == mu, 1.0, 0.0)).astype(dtype)
    return jnp.where(mu < m, wt, 0.0)


def _dot_s(er, ec, pr, pc):
    """D (G,R,R,N) = e_ν·e_μ per atom and S = p_ν p_μ + 2D²; er, ec (3,G,R,N), pr, pc (G,R,N)."""
    d = sum(er[k][:, :, None, :] * ec[k][:, None, :, :] for k in range(3))  # elementwise: faster than K=3 matmul
    return d, pr[:, :, None, :] * pc[:, None, :, :] + 2.0 * d * d


def pair_energies(w, n_atoms: int):
    """Energies (K,) of the sticks of `pair_intensities` (plain JAX: differentiable in w)."""
    m = w.shape[0]
    rows, n_blocks, _, kk, ll = _layout(m, n_atoms)
    wb = _pad_blocks(w, n_blocks, rows, 1.0)
    k, l = kk.reshape(-1), ll.reshape(-1)
    return (wb[k][:, :, None] + wb[l][:, None, :]).reshape(-1)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def pair_intensities(q2_fns, w, b, p, e, a, sigma):
    """Weighted order-2 intensities (n_banks, K) of the unordered pairs ν ≤ μ (layout: module docstring).

    q2_fns: tuple of Q²(E) callables, one per bank; w: (M,) cm⁻¹; b, p: (M, N); e: (M, N, 3); a: (N,) Å²;
    sigma: (N,) barn. Energies: `pair_energies(w, N)`.
    """
    return _forward(q2_fns, w, b, p, e, a, sigma)


def _blocked(w, b, p, e, n_blocks, rows):
    return (_pad_blocks(w, n_blocks, rows, 1.0), _pad_blocks(b, n_blocks, rows), _pad_blocks(p, n_blocks, rows),
            _pad_blocks(e, n_blocks, rows).transpose(3, 0, 1, 2))  # (3, n_blocks, R, N)


def _forward(q2_fns, w, b, p, e, a, sigma):
    m, n = b.shape
    rows, n_blocks, group, kk, ll = _layout(m, n)
    wb, bb_, pb, eb = _blocked(w, b, p, e, n_blocks, rows)
    bsb = bb_ * sigma

    def step(idx):
        k, l = idx
        er, ec = eb[:, k], eb[:, l]
        _, s = _dot_s(er, ec, pb[k], pb[l])
        f = bb_[k][:, :, None, :] * bsb[l][:, None, :, :] * s
        energy = wb[k][:, :, None] + wb[l][:, None, :]
        wt = _weights(k, l, rows, m, energy.dtype)
        out = []
        for q2_fn in q2_fns:
            q2 = q2_fn(energy)
            out.append(wt * q2 * q2 / 30.0 * jnp.sum(f * jnp.exp(-q2[..., None] * a), axis=-1))
        return jnp.stack(out)  # (banks, G, R, R)

    out = jax.lax.map(step, (jnp.asarray(kk), jnp.asarray(ll)))  # (steps, banks, G, R, R)
    return jnp.moveaxis(out, 1, 0).reshape(len(q2_fns), -1)


def _fwd(q2_fns, w, b, p, e, a, sigma):
    return _forward(q2_fns, w, b, p, e, a, sigma), (w, b, p, e, a, sigma)


def _bwd(q2_fns, res, g):
    w, b, p, e, a, sigma = res
    m, n = b.shape
    rows, n_blocks, group, kk, ll = _layout(m, n)
    n_steps = kk.shape[0]
    wb, bb_, pb, eb = _blocked(w, b, p, e, n_blocks, rows)
    g = jnp.moveaxis(g.reshape(len(q2_fns), n_steps, group, rows, rows), 1, 0)  # (steps, banks, G, R, R)

    def step(carry, xs):
        ga, acc_w, acc_s, acc_p, acc_e = carry
        k, l, g_t = xs
        er, ec = eb[:, k], eb[:, l]
        br, bc, pr, pc = bb_[k], bb_[l], pb[k], pb[l]
        d, s = _dot_s(er, ec, pr, pc)
        bb = br[:, :, None, :] * bc[:, None, :, :]  # (G, R, R, N); σ_i applied to the reduced results
        energy = wb[k][:, :, None] + wb[l][:, None, :]
        wt = _weights(k, l, rows, m, energy.dtype)
        v = jnp.zeros_like(bb)  # Σ_β G wt Q⁴/30 exp(−Q² a)
        g_energy = jnp.zeros_like(energy)
        for j, q2_fn in enumerate(q2_fns):
            q2, dq2 = jax.jvp(q2_fn, (energy,), (jnp.ones_like(energy),))
            x = jnp.exp(-q2[..., None] * a)
            fx = bb * s * x * sigma
            gw = g_t[j] * wt
            gq = gw * q2 * q2 / 30.0
            g_energy = g_energy + gw * dq2 * q2 * (jnp.sum(fx, -1) / 15.0 - q2 / 30.0 * jnp.sum(fx * a, -1))
            ga = ga - jnp.sum((gq * q2)[..., None] * fx, axis=(0, 1, 2))
            v = v + gq[..., None] * x
        # row modes (block k): reductions over the column index; column modes (block l): over the row index
        vs, vd = v * s, v * d
        bpc, bpr = bc * pc, br * pr
        t_s_r = jnp.sum(vs * bc[:, None, :, :], axis=2)
        t_p_r = jnp.sum(v * bpc[:, None, :, :], axis=2)
        t_e_r = jnp.stack([jnp.sum(vd * (bc * ec[c])[:, None, :, :], axis=2) for c in range(3)])
        t_s_c = jnp.sum(vs * br[:, :, None, :], axis=1)
        t_p_c = jnp.sum(v * bpr[:, :, None, :], axis=1)
        t_e_c = jnp.stack([jnp.sum(vd * (br * er[c])[:, :, None, :], axis=1) for c in range(3)])
        g_w_r, g_w_c = jnp.sum(g_energy, axis=2), jnp.sum(g_energy, axis=1)
        acc_w = acc_w.at[k].add(g_w_r).at[l].add(g_w_c)
        acc_s = acc_s.at[k].add(t_s_r).at[l].add(t_s_c)
        acc_p = acc_p.at[k].add(t_p_r).at[l].add(t_p_c)
        acc_e = acc_e.at[:, k].add(t_e_r).at[:, l].add(t_e_c)
        return (ga, acc_w, acc_s, acc_p, acc_e), None

    init = (jnp.zeros_like(a), jnp.zeros_like(wb), jnp.zeros_like(bb_), jnp.zeros_like(bb_), jnp.zeros_like(eb))
    (ga, acc_w, acc_s, acc_p, acc_e), _ = jax.lax.scan(step, init, (jnp.asarray(kk), jnp.asarray(ll), g))
    gw = acc_w.reshape(-1)[:m]
    t_s = acc_s.reshape(-1, n)[:m]
    t_p = acc_p.reshape(-1, n)[:m]
    t_e = jnp.moveaxis(acc_e.reshape(3, -1, n)[:, :m], 0, -1)  # (M, N, 3)
    gb = sigma[None, :] * t_s
    gp = sigma[None, :] * b * t_p
    ge = 4.0 * (sigma[None, :] * b)[:, :, None] * t_e
    gsigma = 0.5 * jnp.sum(b * t_s, axis=0)  # Σ_ν b_ν (row part) = Σ_μ b_μ (column part) = half of the total
    return gw, gb, gp, ge, ga, gsigma


pair_intensities.defvjp(_fwd, _bwd)
