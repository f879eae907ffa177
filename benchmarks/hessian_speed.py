"""Speed and memory of model Hessians: chunked forward-over-reverse HVPs vs naive ``jax.hessian``.

Same model, same molecules (linear alkanes of ~30/100/200 atoms), compile time excluded, results synchronised
before timing; memory is XLA's compiled temporary-buffer size. Optionally the direct block model (HIP-style,
one forward pass, ``--blocks-model DIR``; ``--blocks-model random`` for an untrained 'cpu'-size one), the physics
backends (xtb, mmff) where installed, and the training-step cost (probe loss vs full-Hessian loss).

    python benchmarks/hessian_speed.py [--model DIR] [--sizes 30 100 200] [--blocks-model DIR] [--physics]
        [--train-step]
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # this program's process: float64 throughout
from hessfit.errors import InputFormatError
from hessfit.model import ModelConfig, init_params, load_model, make_energy_fn, pack, species_index
from hessfit.model._hessian import INFERENCE_CHUNK, _jitted_columns, column_ids, real_chunks
from hessfit.structures import Structure


def alkane(n_carbon: int) -> Structure:
    """Zig-zag all-anti n-alkane C_nH_(2n+2) (ideal geometry: C–C 1.53 Å, C–H 1.09 Å, tetrahedral angles)."""
    cc, ch = 1.53, 1.09
    half = np.deg2rad(109.47 / 2)
    pos, num = [], []
    carbons = [np.array([i * cc * np.sin(half), (i % 2) * cc * np.cos(half), 0.0]) for i in range(n_carbon)]
    for i, c in enumerate(carbons):
        pos.append(c)
        num.append(6)
        up = 1.0 if i % 2 else -1.0
        for zs in (1.0, -1.0):
            d = np.array([0.0, up * np.cos(np.deg2rad(54.75)), zs * np.sin(np.deg2rad(54.75))])
            pos.append(c + ch * d / np.linalg.norm(d))
            num.append(1)
    for end, sgn in ((carbons[0], -1.0), (carbons[-1], 1.0)):
        pos.append(end + ch * np.array([sgn, 0.0, 0.0]))
        num.append(1)
    return Structure.from_numbers(num, np.array(pos), name=f"C{n_carbon}H{2 * n_carbon + 2}")


def timed(fn, *args, repeat=3):
    out = fn(*args)
    jax.block_until_ready(out)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def temp_bytes(jitted, *args) -> float:
    try:
        ma = jitted.lower(*args).compile().memory_analysis()
        return float(ma.temp_size_in_bytes + ma.output_size_in_bytes)
    except Exception:  # memory analysis not available on every backend
        return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nequip_qm9",
                    help="energy model folder or shipped name (default: nequip_qm9, else a random 'cpu' preset)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 200])
    ap.add_argument("--chunk", type=int, default=INFERENCE_CHUNK,
                    help="tangents per vmapped chunk (inference default %(default)s)")
    ap.add_argument("--baseline-chunk", type=int, default=48,
                    help="the earlier scheme, timed in the same run: chunks of this size over every column of the "
                         "size bucket (0: skip)")
    ap.add_argument("--physics", action="store_true", help="also time xtb and mmff where installed")
    ap.add_argument("--blocks-model", default=None,
                    help="also time a direct block model (folder, or 'random' for an untrained cpu-size one)")
    ap.add_argument("--no-naive", action="store_true", help="skip naive jax.hessian")
    ap.add_argument("--train-step", action="store_true",
                    help="time one training step on a 25-atom QM9-like molecule: probe loss vs full-Hessian loss")
    args = ap.parse_args()
    try:
        model = load_model(args.model)
        cfg, params, label = model.config, model.params, "trained"
    except InputFormatError:  # no shipped weights in this checkout
        from hessfit.model._config import PRESETS

        cfg = ModelConfig(**PRESETS["cpu"])
        params, label = init_params(cfg, jax.random.PRNGKey(0)), "random init"
    print(f"device: {jax.devices()[0].device_kind} ({platform.processor() or platform.machine()}), "
          f"jax {jax.__version__}; model {cfg.hidden_irreps}, {cfg.n_layers} layers, cutoff {cfg.cutoff_angstrom} Å, "
          f"{cfg.dtype} ({label}); chunk {args.chunk}")
    if cfg.kind != "energy":
        raise SystemExit(f"--model {args.model}: an energy model is needed here (kind {cfg.kind!r}); "
                         "pass a block model with --blocks-model")
    blocks = None
    if args.blocks_model == "random":
        from hessfit.model._config import PRESETS

        bcfg = ModelConfig(**PRESETS["cpu"], kind="blocks")
        blocks = (bcfg, init_params(bcfg, jax.random.PRNGKey(0)))
    elif args.blocks_model:
        bm = load_model(args.blocks_model)
        blocks = (bm.config, bm.params)
    energy = make_energy_fn(cfg)
    rows = []
    for target in args.sizes:
        s = alkane(max(1, round((target - 2) / 3)))
        sp = species_index(s.numbers, cfg.elements)
        batch = pack([sp], [s.positions], cutoff_angstrom=cfg.cutoff_angstrom)
        pos = jnp.asarray(batch.positions, cfg.dtype)
        n = s.n_atoms
        ids = column_ids(n, chunk_size=args.chunk)
        n_chunks = real_chunks(ids)  # stop after the last real column, as batch_hessians does
        fn = _jitted_columns(cfg)
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params, pos, batch.graph, batch.slot, ids, n_chunks))
        compile_hvp = time.perf_counter() - t0
        t_hvp = timed(fn, params, pos, batch.graph, batch.slot, ids, n_chunks)
        m_hvp = temp_bytes(fn, params, pos, batch.graph, batch.slot, ids, n_chunks)
        row = {"atoms": n, "edges": int(batch.graph.edge_mask.sum()), "hvp_s": t_hvp, "hvp_mb": m_hvp / 1e6,
               "hvp_compile_s": compile_hvp}
        if args.baseline_chunk:
            ids_all = column_ids(n, chunk_size=args.baseline_chunk)
            row["hvp_base_s"] = timed(fn, params, pos, batch.graph, batch.slot, ids_all)
            row["base/hvp"] = row["hvp_base_s"] / t_hvp
        if blocks is not None:
            from hessfit.model import molecule_index
            from hessfit.model._hessian import _jitted_direct

            bcfg, bparams = blocks
            bb = pack([species_index(s.numbers, bcfg.elements)], [s.positions], cutoff_angstrom=bcfg.cutoff_angstrom)
            bargs = (bparams, jnp.asarray(bb.positions, bcfg.dtype), bb.graph, molecule_index(bb), 8)
            fnb = _jitted_direct(bcfg)
            t0 = time.perf_counter()
            jax.block_until_ready(fnb(*bargs))
            row["direct_compile_s"] = time.perf_counter() - t0
            row["direct_s"] = timed(fnb, *bargs)
            row["direct_mb"] = temp_bytes(fnb, *bargs) / 1e6
            row["hvp/direct"] = t_hvp / row["direct_s"]
        if not args.no_naive:
            naive = jax.jit(lambda p, r, g: jax.hessian(lambda x: energy(p, r.at[:n].set(x), g))(r[:n]))
            t0 = time.perf_counter()
            jax.block_until_ready(naive(params, pos, batch.graph))
            row["naive_compile_s"] = time.perf_counter() - t0
            row["naive_s"] = timed(naive, params, pos, batch.graph)
            row["naive_mb"] = temp_bytes(naive, params, pos, batch.graph) / 1e6
        if args.physics:
            from hessfit.sources import get_source

            for name in ("mmff", "xtb"):
                try:
                    src = get_source(name)
                    t0 = time.perf_counter()
                    src.hessian(s)
                    row[f"{name}_s"] = time.perf_counter() - t0
                except Exception as exc:  # not installed or failed: report, keep going
                    row[f"{name}_s"] = float("nan")
                    print(f"  {name}: {type(exc).__name__}: {str(exc)[:80]}")
        rows.append(row)
        print(f"  {s.name}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items()), flush=True)
    if args.train_step:
        train_step_table(cfg, params)
    cols = ["atoms", "edges", "hvp_s", "hvp_mb", "hvp_compile_s", "hvp_base_s", "base/hvp", "direct_s", "direct_mb",
            "direct_compile_s",
            "hvp/direct", "naive_s", "naive_mb", "naive_compile_s", "mmff_s", "xtb_s"]
    cols = [c for c in cols if any(c in r for r in rows)]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols) + " |")
    print(f"hvp = chunked forward-over-reverse (linearise once, vmapped chunks of {args.chunk} tangents, loop stops "
          f"after the last real column); hvp_base = the same with chunks of {args.baseline_chunk} over every column "
          "of the size bucket (the earlier scheme); "
          "direct = block model, one forward pass; naive = jax.jit(jax.hessian(E)); times warm, median of 3; "
          "memory = XLA temp + output buffers")


def train_step_table(cfg, params):
    """Parameter-gradient cost: 1 and 4 HVP probes vs the full Hessian (jax.hessian) of one molecule."""
    from hessfit.train import make_full_hessian_loss_fn, make_probe_loss_fn

    s = alkane(8)  # C8H18, 26 atoms: the size of the training molecules
    sp = species_index(s.numbers, cfg.elements)
    batch = pack([sp], [s.positions], cutoff_angstrom=cfg.cutoff_angstrom)
    pos = jnp.asarray(batch.positions, cfg.dtype)
    n, a_pad = s.n_atoms, batch.positions.shape[0]
    ref = jnp.eye(3 * n, dtype=cfg.dtype)
    weights = jnp.zeros(a_pad, cfg.dtype).at[:n].set(1.0 / (3 * n) ** 2)
    probe_loss = make_probe_loss_fn(cfg)
    print(f"training step, {s.name} ({n} atoms), value_and_grad w.r.t. parameters:")
    for k in (1, 4):
        v = jnp.zeros((k, a_pad, 3), cfg.dtype).at[:, :n].set(1.0)
        f = jax.jit(jax.grad(lambda p: probe_loss(p, pos, batch.graph, v, v, weights)[0]))
        print(f"  {k} probe(s): {timed(f, params) * 1e3:.1f} ms")
    full = make_full_hessian_loss_fn(cfg)
    f = jax.jit(jax.grad(lambda p: full(p, pos, batch.graph, ref)))
    print(f"  full Hessian ({3 * n} tangents): {timed(f, params) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
