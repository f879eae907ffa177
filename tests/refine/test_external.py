"""fit_external_modes recovers the lattice-band centre and width of a spectrum made with the same model."""

import numpy as np

from hessfit.ins import InsConfig, external_mode_spectrum_fn
from hessfit.refine import fit_external_modes
from hessfit.structures import MeasuredSpectrum


def test_grid_fit_recovers_the_generating_centre_and_width(qm9_molecule):
    s, h = qm9_molecule
    cfg = InsConfig(instrument="tosca", max_order=2, e_max_cm1=1200.0)
    e = cfg.e_min_cm1 + (np.arange(cfg.n_bins) + 0.5) * cfg.bin_width_cm1
    y = np.asarray(external_mode_spectrum_fn(s, cfg, n_samples=5)(h, 70.0, 10.0)).sum(0)
    keep = slice(40, None, 3)  # a coarser "measured" grid, away from the elastic line
    measured = MeasuredSpectrum(energy_cm1=e[keep], intensity=y[keep])
    c, w, rho, spec = fit_external_modes(s, h, measured, cfg, window_cm1=(40.0, 1100.0), n_samples=5,
                                         centres_cm1=[50.0, 70.0, 90.0], widths_cm1=[5.0, 10.0])
    assert (c, w) == (70.0, 10.0)
    assert rho > 0.999 and spec.shape == (2, e.size)
