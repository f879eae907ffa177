"""Fit the external-mode model (`hessfit.ins.external_mode_spectrum_fn`) of an isolated molecule to a measured
spectrum: the lattice-mode band's centre and width (cm⁻¹) by a grid search on the Spearman correlation
(`fit_external_modes`), and the band refinement holds (`external_band`, ``RefineConfig.external_modes``)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hessfit.compare import compare_spectra
from hessfit.ins import InsConfig, external_mode_spectrum_fn, lowest_node_cm1


def fit_external_modes(structure, hessian, measured, config: InsConfig | None = None, *,
                       window_cm1=(50.0, 1800.0), centres_cm1=None, widths_cm1=None, n_samples: int = 7,
                       min_node_cm1: float = 20.0):
    """Choose the external-mode centre and width (cm⁻¹) that maximise the Spearman correlation with a measured
    spectrum in ``window_cm1`` (grid search; the rank correlation has no useful gradient). Pairs whose lowest
    sample lies below ``min_node_cm1`` are skipped (see the module docstring).

    Returns (centre_cm1, width_cm1, spearman, spectra (max_order, n_bins)).
    """
    config = config or InsConfig()
    fn = external_mode_spectrum_fn(structure, config, n_samples=n_samples)
    centres = np.arange(30.0, 161.0, 10.0) if centres_cm1 is None else np.asarray(centres_cm1, float)
    widths = np.array([5.0, 10.0, 20.0, 30.0]) if widths_cm1 is None else np.asarray(widths_cm1, float)
    e = config.e_min_cm1 + (np.arange(config.n_bins) + 0.5) * config.bin_width_cm1
    h = jnp.asarray(hessian)
    best = (None, None, -np.inf, None)
    for c in centres:
        for s in widths:
            if lowest_node_cm1(c, s, n_samples) < min_node_cm1:
                continue
            spec = np.asarray(fn(h, float(c), float(s)))
            r = compare_spectra(measured, (e, spec.sum(0)), window_cm1=window_cm1)["spearman"]
            if r > best[2]:
                best = (float(c), float(s), float(r), spec)
    return best


#: Gauss–Hermite samples of the external-mode band (as `hessfit.refine.fit_external_modes`)
EXTERNAL_SAMPLES = 7


def external_band(structure, h0, measured, config) -> tuple[float, float]:
    """(centre, width) cm⁻¹ of the external-mode band that best matches the measurement with the seed Hessian
    (`fit_external_modes`, a grid search on the Spearman correlation in the fit window); ``config``: a
    RefineConfig (instrument, temperature, orders, window)."""
    from hessfit.errors import ConfigError

    h0 = np.asarray(h0, float)
    if getattr(structure, "is_crystal", False):
        raise ConfigError(f"{structure.name}: a crystal has its own lattice modes; external modes are for a "
                          "molecule measured as a solid")
    cfg = InsConfig(instrument=config.instrument, temperature_k=config.temperature_k, max_order=config.max_order,
                    e_min_cm1=0.0, e_max_cm1=float(config.e_max_cm1) + 200.0, bin_width_cm1=config.bin_width_cm1)
    centre, width, _, _ = fit_external_modes(structure, h0, measured, cfg, n_samples=EXTERNAL_SAMPLES,
                                             window_cm1=(config.e_min_cm1, config.e_max_cm1))
    return centre, width
