"""Order-2 (overtone + combination) stick intensities with a hand-written reverse-mode rule.

For every ordered mode pair (ν, μ), energy E = ω_ν + ω_μ, and every bank β (own Q²_β(E)):

    I_β(ν, μ) = Q⁴/30 · Σ_i σ_i b_νi b_μi [p_νi p_μi + 2 (e_νi·e_μi)²] · exp(−Q² a_i)

with b = ħ/(2mω)⟨n+1⟩ (Å², (M, N)), p = |e|², σ the cross section (barn), a = tr A/3 (Å²). The work is an
(M × M × N) array per bank; XLA's automatic transpose of it materialises many such arrays and costs ~10× the
forward pass on CPU. The rule below uses the symmetry I(ν, μ) = I(μ, ν) (so every cotangent is a reduction
over the second mode index only), recomputes the shared factors per small row block (cache-sized), and
shares the polynomial part between banks.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

#: target number of elements per (rows × modes × atoms) work block (≈ 160 kB in float64: stays in cache)
BLOCK_ELEMENTS = 20_000


def _blocks(m: int, n: int) -> tuple[int, int]:
    rows = max(1, min(m, BLOCK_ELEMENTS // max(1, m * n)))
    return rows, -(-m // rows)


def _pad_rows(x, n_blocks: int, rows: int, fill=0.0):
    pad = n_blocks * rows - x.shape[0]
    x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1), constant_values=fill)
    return x.reshape((n_blocks, rows) + x.shape[1:])


def _dot_s(e_r, e_t, p_r, p):
    """D (R,M,N) = e_ν·e_μ per atom and S = p_ν p_μ + 2D²; e_r (R,N,3), e_t (3,M,N)."""
    d = sum(e_r[:, None, :, k] * e_t[k][None] for k in range(3))  # elementwise: faster than a K=3 matmul
    return d, p_r[:, None, :] * p[None, :, :] + 2.0 * d * d


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def pair_intensities(q2_fns, w, b, p, e, a, sigma):
    """Order-2 intensities (n_banks, M, M) for banks with Q²(E) functions ``q2_fns`` (tuple of callables).

    w: (M,) cm⁻¹; b, p: (M, N); e: (M, N, 3); a: (N,) Å²; sigma: (N,) barn.
    """
    return _forward(q2_fns, w, b, p, e, a, sigma)


def _forward(q2_fns, w, b, p, e, a, sigma):
    m, n = b.shape
    rows, n_blocks = _blocks(m, n)
    e_t = jnp.moveaxis(e, -1, 0)
    bs = b * sigma[None, :]

    def block(args):
        w_r, b_r, p_r, e_r = args
        _, s = _dot_s(e_r, e_t, p_r, p)
        f = b_r[:, None, :] * bs[None, :, :] * s
        energy = w_r[:, None] + w[None, :]
        out = []
        for q2_fn in q2_fns:
            q2 = q2_fn(energy)
            out.append(q2 * q2 / 30.0 * jnp.sum(f * jnp.exp(-q2[:, :, None] * a[None, None, :]), axis=-1))
        return jnp.stack(out)  # (banks, R, M)

    blocks = (_pad_rows(w, n_blocks, rows, 1.0), _pad_rows(b, n_blocks, rows), _pad_rows(p, n_blocks, rows),
              _pad_rows(e, n_blocks, rows))
    out = jax.lax.map(block, blocks)  # (blocks, banks, R, M)
    return jnp.moveaxis(out, 1, 0).reshape(len(q2_fns), n_blocks * rows, m)[:, :m]


def _fwd(q2_fns, w, b, p, e, a, sigma):
    return _forward(q2_fns, w, b, p, e, a, sigma), (w, b, p, e, a, sigma)


def _bwd(q2_fns, res, g):
    w, b, p, e, a, sigma = res
    m, n = b.shape
    rows, n_blocks = _blocks(m, n)
    e_t = jnp.moveaxis(e, -1, 0)
    g = 0.5 * (g + jnp.swapaxes(g, 1, 2))  # symmetric cotangent: row and column contributions are equal
    g = _pad_rows(jnp.moveaxis(g, 0, 1), n_blocks, rows)  # (blocks, R, banks, M)

    def block(ga, args):
        w_r, b_r, p_r, e_r, g_r = args
        d, s = _dot_s(e_r, e_t, p_r, p)
        bb = b_r[:, None, :] * b[None, :, :]  # (R, M, N); σ_i applied to the reduced results
        energy = w_r[:, None] + w[None, :]
        v = jnp.zeros_like(bb)  # Σ_β G Q⁴/30 exp(−Q² a)
        g_energy = jnp.zeros_like(energy)
        for k, q2_fn in enumerate(q2_fns):
            q2, dq2 = jax.jvp(q2_fn, (energy,), (jnp.ones_like(energy),))
            x = jnp.exp(-q2[:, :, None] * a[None, None, :])
            fx = bb * s * x * sigma
            gq = g_r[:, k, :] * q2 * q2 / 30.0
            g_energy = g_energy + g_r[:, k, :] * dq2 * q2 * (jnp.sum(fx, -1) / 15.0 - q2 / 30.0 * jnp.sum(fx * a, -1))
            ga = ga - jnp.sum((gq * q2)[:, :, None] * fx, axis=(0, 1))
            v = v + gq[:, :, None] * x
        vb = v * b[None, :, :]  # (R, M, N)
        t_s = jnp.sum(vb * s, axis=1)  # Σ_μ v b_μ S          → b and σ
        t_p = jnp.sum(vb * p[None, :, :], axis=1)  # Σ_μ v b_μ p_μ → p
        vd = vb * d
        t_e = jnp.stack([jnp.sum(vd * e_t[k][None], axis=1) for k in range(3)], axis=-1)  # (R, N, 3)
        return ga, (jnp.sum(g_energy, axis=1), t_s, t_p, t_e, b_r)

    blocks = (_pad_rows(w, n_blocks, rows, 1.0), _pad_rows(b, n_blocks, rows), _pad_rows(p, n_blocks, rows),
              _pad_rows(e, n_blocks, rows), g)
    ga, per_row = jax.lax.scan(block, jnp.zeros_like(a), blocks)
    gw, t_s, t_p, t_e, b_rows = (x.reshape((n_blocks * rows,) + x.shape[2:])[:m] for x in per_row)
    gb = 2.0 * sigma[None, :] * t_s
    gp = 2.0 * sigma[None, :] * b * t_p
    ge = 8.0 * (sigma[None, :] * b)[:, :, None] * t_e
    gsigma = jnp.sum(b_rows * t_s, axis=0)
    return 2.0 * gw, gb, gp, ge, ga, gsigma


pair_intensities.defvjp(_fwd, _bwd)
