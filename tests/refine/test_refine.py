"""End-to-end refinement: gradient of the full objective, synthetic recovery, degenerate molecule, CLI on real data."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hessfit.compare import MeasuredSpectrum
from hessfit.ins import InsConfig, simulate
from hessfit.modes import normal_modes
from hessfit.refine import RefineConfig, refine
from hessfit.refine._refine import _Problem
from tests.helpers import methane


def _synthetic(s, h, *, noise=0.01, seed=0):
    ds = simulate(s, h, InsConfig(instrument="tosca", max_order=2, e_max_cm1=3500.0, bin_width_cm1=2.0))
    y = ds["total"].values
    y = y + noise * y.max() * np.random.default_rng(seed).normal(size=y.size) + 0.05 * y.max()
    return MeasuredSpectrum(energy_cm1=ds["energy"].values, intensity=y)


def test_full_objective_gradient_matches_fd(qm9_molecule):
    s, h = qm9_molecule
    meas = _synthetic(s, h)
    cfg = RefineConfig(parametrization="internal", w_peak=0.1, w_l2=0.5, w_wasserstein=0.1, e_max_cm1=2000.0,
                       max_order=1, fit_resolution=True, background_degree=1)  # order-2 gradients: tests/ins
    m = (meas.energy_cm1 >= 50) & (meas.energy_cm1 <= 2000)
    held = (np.arange(m.sum()) // 40) % 5 == 2  # interleaved held-out blocks: they must not enter the loss
    prob = _Problem(s, h * 0.95, meas.energy_cm1[m], meas.intensity[m], cfg, held)
    x0, _, _ = prob.initial()
    x0 = jnp.asarray(x0) * 1.02
    args = (jnp.asarray(0.05), jnp.asarray(0.3), jnp.array([10, 40]), jnp.array([480.0, 1400.0]),
            jnp.array([5.0, 9.0]), jnp.ones(2))
    f = jax.jit(lambda x: prob.loss(x, *args)[0])  # compiled: far faster than op-by-op
    g = jax.jit(jax.grad(f))(x0)
    d = jnp.asarray(np.random.default_rng(1).normal(size=x0.size))
    eps = 1e-6
    fd = (f(x0 + eps * d) - f(x0 - eps * d)) / (2 * eps)
    assert float(jnp.sum(g * d)) == pytest.approx(float(fd), rel=1e-4)


def test_global_scale_recovery(qm9_molecule):
    s, h = qm9_molecule
    meas = _synthetic(s, h)
    cfg = RefineConfig(parametrization="global", stages=2, steps_per_stage=10, fit_resolution=False)
    r = refine(s, 0.92 * h, meas, cfg, progress=False)
    assert 0.92 * r.params[0] == pytest.approx(1.0, abs=0.01)
    f_ref = np.asarray(normal_modes(s, h).frequencies_cm1)
    rms = lambda f: np.sqrt(np.mean((f - f_ref) ** 2))  # noqa: E731
    assert rms(r.frequencies_after) < 0.2 * rms(r.frequencies_before)
    # 1 % noise and the baseline subtraction cap the fit Spearman near 0.83 even for the exact Hessian
    assert r.metrics["spearman_fit_after"] > 0.8 > r.metrics["spearman_fit_before"] + 0.3
    assert r.uncertainties is not None and r.uncertainties[0] < 0.01
    m = r.metrics
    for which in ("before", "after"):  # the held-out peak RMS is NaN exactly when no held-out peak is matched
        assert 0 <= m[f"n_heldout_matched_{which}"] <= min(m["n_heldout_peaks"], m[f"n_matched_{which}"])
        assert np.isfinite(m[f"peak_rms_heldout_cm1_{which}"]) == (m[f"n_heldout_matched_{which}"] > 0)


def test_heldout_peak_text_never_prints_nan():
    from hessfit.refine import heldout_peak_text

    m = {"peak_rms_heldout_cm1_before": 22.24, "n_heldout_matched_before": 3,
         "peak_rms_heldout_cm1_after": float("nan"), "n_heldout_matched_after": 0}
    assert heldout_peak_text(m, "before") == "22.2 (3 matched)"
    assert heldout_peak_text(m, "after") == "none matched"


def test_chosen_stage_text_says_when_the_seed_was_kept():
    from hessfit.refine import chosen_stage_text

    assert chosen_stage_text({"selected_stage": -1, "selected_prior_strength": float("nan")}) == \
        "seed kept (no stage raised the held-out score)"
    assert chosen_stage_text({"selected_stage": 2, "selected_prior_strength": 0.1}) == \
        "stage 2 chosen (prior strength 0.1)"


def test_degenerate_molecule_refines_without_nan():
    s, h = methane()
    meas = _synthetic(s, h)
    r = refine(s, 1.05 * h, meas, RefineConfig(parametrization="classes", stages=1, steps_per_stage=5,
                                                solver="adam"), progress=False)
    assert np.all(np.isfinite(r.hessian_refined)) and np.all(np.isfinite([h["loss"] for h in r.history]))


def _write_xyz(s, path):
    lines = [str(s.n_atoms), s.name] + [f"{sym} {x:.10f} {y:.10f} {z:.10f}" for sym, (x, y, z) in
                                        zip(s.symbols, np.asarray(s.positions))]
    path.write_text("\n".join(lines) + "\n")


def _spliced_spectrum(s, h, path, *, split_cm1=2500.0):
    """Below split_cm1 the spectrum of 0.93·H, above it that of H (orders 1, TOSCA, 2 cm⁻¹ grid), 0.2 % noise."""
    cfg = InsConfig(instrument="tosca", max_order=1, e_max_cm1=3600.0, bin_width_cm1=2.0)
    lo, hi = (simulate(s, x, cfg) for x in (0.93 * h, h))
    e = lo["energy"].values
    y = np.where(e < split_cm1, lo["total"].values, hi["total"].values)
    y = y + 0.002 * y.max() * np.random.default_rng(3).normal(size=y.size) + 0.01 * y.max()
    np.savetxt(path, np.stack([e, y], axis=1), header="synthetic TOSCA spectrum")


def test_seed_is_kept_when_the_held_out_score_falls(tmp_path, capsys):
    """The fitted part wants H ×0.93, the held-out part (2500-3500 cm⁻¹) the seed: the fit lowers the held-out
    Spearman, so the seed's parameters come back with a one-line message; --accept-worse returns the fit."""
    from hessfit.cli import main

    s, h = methane()
    xyz, hess = tmp_path / "methane.xyz", tmp_path / "methane.npy"
    _write_xyz(s, xyz)
    np.save(hess, h)
    spec = tmp_path / "spliced.dat"
    _spliced_spectrum(s, h, spec)
    base = ["refine", str(xyz), str(spec), "--hessian", str(hess), "--instrument", "tosca", "--orders", "1",
            "--config", "global", "--holdout", "range:2500-3500", "--stages", "3", "--steps", "6", "--quiet"]
    assert main(base + ["-o", str(tmp_path / "kept")]) == 0
    out = capsys.readouterr().out
    kept = json.loads((tmp_path / "kept/summary.json").read_text())
    assert kept["kept_seed"] and kept["heldout_worse"] and kept["selected_stage"] == -1
    lines = [ln for ln in out.splitlines() if ln.startswith("held-out Spearman fell")]
    assert len(lines) == 1 and "kept the seed's parameters" in lines[0]
    np.testing.assert_array_equal(np.load(tmp_path / "kept/hessian_refined.npy"), 0.5 * (h + h.T))
    assert kept["spearman_heldout_after"] == kept["spearman_heldout_before"]
    # every fitted stage scored below the seed on the held-out part
    assert max(st["heldout"] for st in kept["stages"][1:]) < kept["stages"][0]["heldout"]

    assert main(base + ["--accept-worse", "-o", str(tmp_path / "fit")]) == 0
    out = capsys.readouterr().out
    fit = json.loads((tmp_path / "fit/summary.json").read_text())
    assert not fit["kept_seed"] and fit["heldout_worse"] and "warning: held-out Spearman fell" in out
    assert fit["spearman_heldout_after"] < fit["spearman_heldout_before"]
    scale = fit["scale_factors"][0]["value"]
    assert scale < 0.97 and fit["selected_stage"] == 2  # the last stage; the fitted part pulled it towards 0.93
    assert fit["intensity_scale_after"] > 0 and fit["nuisance"]["background_after"] == []  # baseline removed


def test_a_constant_background_changes_the_display_not_the_rank_fit():
    """Default background: none when the baseline is subtracted, a constant ≥ 0 when not. With the rank and peak
    losses a constant cannot change the fit (ranks of a·s + c are those of s): the same scale factor with and
    without it; the intensity scale and the plotted model differ (and the fitted score, where rounding of a + c
    ties the simulation's near-zero stretches)."""
    assert RefineConfig().background_degree == -1 and RefineConfig(subtract_baseline=False).background_degree == 0
    assert RefineConfig().replace(subtract_baseline=False).background_degree == 0
    assert RefineConfig(background_degree=2).replace(subtract_baseline=False).background_degree == 2
    s, h = methane()
    ds = simulate(s, 1.05 * h, InsConfig(instrument="tosca", max_order=1, e_max_cm1=3500.0, bin_width_cm1=2.0))
    y = ds["total"].values
    meas = MeasuredSpectrum(energy_cm1=ds["energy"].values, intensity=y + 0.1 * y.max())
    runs = {}
    for degree in (-1, 0):
        cfg = RefineConfig(parametrization="global", max_order=1, stages=2, steps_per_stage=6, holdout="none",
                           prior_path=(0.0,), background_degree=degree)
        runs[degree] = refine(s, h, meas, cfg, progress=False)
    assert len(runs[-1].nuisance_after) == 1 and len(runs[0].nuisance_after) == 2
    np.testing.assert_allclose(runs[-1].params, runs[0].params, rtol=1e-6)
    assert runs[-1].params[0] == pytest.approx(1.05, abs=0.01)
    from hessfit.refine._report import spectra_dataset

    assert spectra_dataset(runs[-1])["model_after"].attrs["long_name"] == "scaled"  # the plot's label too
    assert spectra_dataset(runs[0])["model_after"].attrs["long_name"] == "scaled + background"


def test_anticorrelated_seed_keeps_a_positive_scale():
    """A measurement that is the seed's spectrum upside down: unconstrained least squares would take a negative
    intensity scale; the bounded fit keeps it > 0 and the background ≥ 0."""
    s, h = methane()
    ds = simulate(s, h, InsConfig(instrument="tosca", max_order=1, e_max_cm1=3500.0, bin_width_cm1=2.0))
    y = ds["total"].values
    meas = MeasuredSpectrum(energy_cm1=ds["energy"].values, intensity=1.2 * y.max() - y)
    cfg = RefineConfig(parametrization="global", max_order=1, stages=1, steps_per_stage=4, subtract_baseline=False,
                       background_degree=1, holdout="none", scale_bounds=(0.98, 1.02), prior_path=(0.0,))
    r = refine(s, h, meas, cfg, progress=False)
    assert r.nuisance_before[0] > 0 and r.nuisance_after[0] > 0 and np.all(r.nuisance_after[1:] >= 0)
    assert r.metrics["spearman_fit_before"] < 0  # so the reported fit score is not flipped into a good one
    assert r.metrics["intensity_scale_after"] == pytest.approx(r.nuisance_after[0])


def test_parameter_at_its_bound_is_flagged(tmp_path):
    """Seed 0.97·H with bounds [0.95, 1.01]: the fit needs 1/0.97 = 1.031, stops at 1.01 and the summary says so."""
    from hessfit.refine import write_refinement

    s, h = methane()
    cfg = RefineConfig(parametrization="global", max_order=1, stages=2, steps_per_stage=6, scale_bounds=(0.95, 1.01),
                       prior_path=(0.0,), holdout="none")
    r = refine(s, 0.97 * h, _synthetic(s, h), cfg, progress=False)
    assert float(r.params[0]) == pytest.approx(1.01) and r.at_bounds == {"global scale": "upper"}
    write_refinement(r, tmp_path / "b")
    summary = json.loads((tmp_path / "b/summary.json").read_text())
    assert summary["parameters_at_bounds"] == {"global scale": "upper"}
    assert summary["scale_factors"][0]["at_bound"] == "upper" and summary["scale_factors"][0]["prior_width_log"] == 0.1


def test_bootstrap_spread_is_finite_and_comparable_to_the_curvature(tmp_path):
    """--bootstrap: warm-started refits on resampled noise and rotated held-out blocks give a finite spread of the
    same order as the curvature 1σ (both measure how well the spectrum pins the scale), written beside it."""
    from hessfit.refine import write_refinement

    s, h = methane()
    cfg = RefineConfig(parametrization="global", max_order=1, stages=1, steps_per_stage=4, bootstrap=2)
    r = refine(s, 0.98 * h, _synthetic(s, h), cfg, progress=False)
    assert r.bootstrap_sigma is not None and r.bootstrap_sigma.shape == (1,)
    boot, curv = float(r.bootstrap_sigma[0]), float(r.uncertainties[0])
    assert 0 < boot < 0.05 and 0.02 < boot / curv < 50
    write_refinement(r, tmp_path / "b")
    row = json.loads((tmp_path / "b/summary.json").read_text())["scale_factors"][0]
    assert row["bootstrap_1sigma"] == pytest.approx(boot)


def test_cli_seeds_ranks_by_held_out_score(tmp_path, data_dir):
    from hessfit.cli import main

    out = tmp_path / "seeds"
    args = ["refine", str(data_dir / "hexane/hexane_rdkit_mmff.xyz"), str(data_dir / "hexane/hexane_tfxa.dat"),
            "--instrument", "tfxa", "--config", "global", "--seeds", "mmff,xtb", "--orders", "1", "--stages", "1",
            "--steps", "3", "--quiet", "-o", str(out)]
    assert main(args) == 0
    import csv

    rows = list(csv.DictReader(open(out / "seeds.csv")))
    assert [r["rank"] for r in rows] == ["1", "2"] and {r["seed"] for r in rows} == {"mmff", "xtb"}
    held = [float(r["heldout_after"]) for r in rows]
    assert held[0] >= held[1]
    for r in rows:  # each row is the seed's own summary
        summary = json.loads((out / f"seed_{r['seed']}" / "summary.json").read_text())
        assert float(r["heldout_after"]) == pytest.approx(summary["spearman_heldout_after"])
        assert summary["spearman_heldout_after"] >= summary["spearman_heldout_before"]  # worse fits keep the seed
    assert (out / "seeds.png").stat().st_size > 10_000
    assert main(args) == 1  # refuses to overwrite
    assert main(args[:-2] + ["--hessian", "x.npy", "-o", str(tmp_path / "y")]) == 1  # --seeds and --hessian clash


def test_hierarchical_classes_prior_matches_brute_force_and_fd(qm9_molecule):
    """½Σ a_k(θ_k − μ)² + ½μ²/W² minimised over each group's μ (closed form in the code) vs a numerical minimum."""
    from scipy.optimize import minimize_scalar

    s, h = qm9_molecule
    e = np.arange(50.0, 2000.0, 2.0)
    cfg = RefineConfig(parametrization="classes", class_group_width=0.1, max_order=1, e_max_cm1=2000.0)
    prob = _Problem(s, h, e, np.exp(-0.5 * ((e - 1000.0) / 30.0) ** 2), cfg)
    names = prob.param.names
    rng = np.random.default_rng(5)
    p = np.exp(rng.normal(scale=0.05, size=len(names)))
    theta, a = np.log(p), np.array([1.0 / cfg.prior_width(n) ** 2 for n in names])
    ref = 0.0
    for g in dict.fromkeys(n.split()[0] for n in names):
        m = np.array([n.split()[0] == g for n in names])
        ref += minimize_scalar(lambda mu: 0.5 * np.sum(a[m] * (theta[m] - mu) ** 2) + 0.5 * (mu / 0.1) ** 2).fun
    assert float(prob.prior(jnp.asarray(p))) == pytest.approx(ref, rel=1e-8)
    # a uniform factor c on a whole group costs ½ (ln c)² A/W² / (A + 1/W²), A = Σ a_k: at most one group-width
    # penalty ½(ln c/W)², however many classes the group has
    xh = np.array([n.startswith("X-H") for n in names])
    big_a = a[xh].sum()
    expected = 0.5 * np.log(0.943) ** 2 * big_a / 0.1**2 / (big_a + 1 / 0.1**2)
    assert float(prob.prior(jnp.asarray(np.where(xh, 0.943, 1.0)))) == pytest.approx(expected, rel=1e-10)
    assert expected < 0.5 * (np.log(0.943) / 0.1) ** 2
    d = rng.normal(size=p.size)
    g = jax.grad(prob.prior)(jnp.asarray(p))
    fd = (float(prob.prior(jnp.asarray(p + 1e-6 * d))) - float(prob.prior(jnp.asarray(p - 1e-6 * d)))) / 2e-6
    assert float(jnp.sum(g * d)) == pytest.approx(fd, rel=1e-6)


def test_prior_variants_return_the_best_held_out_fit():
    s, h = methane()
    cfg = RefineConfig(parametrization="global", max_order=1, stages=1, steps_per_stage=4,
                       prior_variants=({"prior_path": (1e4,)},))
    r = refine(s, 0.97 * h, _synthetic(s, h), cfg, progress=False)
    cands = r.metrics["prior_variants"]
    assert [c["variant"] for c in cands] == [{}, {"prior_path": (1e4,)}]
    best = max(c["spearman_heldout_after"] for c in cands)
    assert r.metrics["spearman_heldout_after"] == best
    with pytest.raises(Exception, match="prior_variants: unknown fields"):
        RefineConfig(prior_variants=({"prior_pth": (1.0,)},))


def test_crystal_refinement_recovers_stretch_and_intermolecular_scales(tmp_path):
    """A synthetic spectrum of the two-dimer crystal with the bond stiffness ×1.04 and the inter-dimer springs
    ×1.4, refined from the unscaled Hessian: both factors come back, and the written tables label the lattice
    modes (the intermolecular factor is the crystal's extra parameter; the dimers' stretch is shared)."""
    import csv

    from hessfit.refine import make_parametrization, write_refinement
    from tests.ins.crystal_models import dimer_crystal

    s, h_intra, h_inter = dimer_crystal(0.3)
    h0 = h_intra + h_inter
    truth = np.asarray(make_parametrization("internal", s, h0, bounds=(0.5, 1.5)).apply(jnp.array([1.04, 1.4])))
    meas = _synthetic(s, truth, noise=0.002)
    cfg = RefineConfig(parametrization="internal", holdout="none", e_min_cm1=40.0, e_max_cm1=2000.0,
                       max_order=2, prior_path=(1e-4,))
    r = refine(s, h0, meas, cfg, progress=False)
    assert r.parametrization.names == ("X-Y stretch", "intermolecular scale")
    np.testing.assert_allclose(r.params, [1.04, 1.4], rtol=0.01)
    write_refinement(r, tmp_path / "out")
    with open(tmp_path / "out" / "modes.csv") as f:
        characters = [row["character"] for row in csv.DictReader(f)]
    assert characters.count("translational") == 3 and characters.count("librational") == 4


def test_external_modes_of_a_molecule_measured_as_a_solid(qm9_molecule):
    """A spectrum made with a lattice-mode band (80 ± 10 cm⁻¹ on the rigid-body vectors): --external-modes finds
    the band on the grid and the global scale comes back; a crystal is refused in one line."""
    from hessfit.errors import ConfigError
    from hessfit.ins import external_mode_spectrum_fn
    from tests.ins.crystal_models import dimer_crystal

    s, h = qm9_molecule
    cfg_ins = InsConfig(instrument="tosca", max_order=2, e_max_cm1=2200.0, bin_width_cm1=2.0)
    spec = np.asarray(external_mode_spectrum_fn(s, cfg_ins)(jnp.asarray(h), 80.0, 10.0)).sum(0)
    e = cfg_ins.e_min_cm1 + (np.arange(cfg_ins.n_bins) + 0.5) * cfg_ins.bin_width_cm1
    y = spec + 0.002 * spec.max() * np.random.default_rng(0).normal(size=spec.size)
    meas = MeasuredSpectrum(energy_cm1=e, intensity=y)
    cfg = RefineConfig(parametrization="global", external_modes=True, e_min_cm1=40.0, e_max_cm1=2000.0,
                       max_order=2, holdout="none", stages=2, steps_per_stage=10)
    r = refine(s, 0.95 * h, meas, cfg, progress=False)
    assert (r.metrics["external_centre_cm1"], r.metrics["external_width_cm1"]) == (80.0, 10.0)
    assert 0.95 * r.params[0] == pytest.approx(1.0, abs=0.01)
    crystal, h_intra, h_inter = dimer_crystal(0.3)
    with pytest.raises(ConfigError, match="a crystal has its own lattice modes"):
        refine(crystal, h_intra + h_inter, meas, cfg, progress=False)
