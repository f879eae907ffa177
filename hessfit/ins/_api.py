"""User-facing INS API: `simulate` (structure + Hessian → xarray.Dataset), saving and plotting."""

from __future__ import annotations

import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import xarray as xr

from hessfit.errors import ConfigError
from hessfit.ins._config import InsConfig
from hessfit.ins._instrument import load_instrument
from hessfit.ins._simulate import make_spectrum_fn
from hessfit.modes import normal_modes, vibrational_basis
from hessfit.structures import HessfitWarning, cross_sections, validate_hessian
from hessfit.units import CM1_PER_MEV


def spectrum_fn_for(structure, config: InsConfig | None = None):
    """Jitted ``fn(hessian, resolution_scale=1.0, wing_a_iso=None) -> (max_order, n_bins)`` for ``structure``.

    For a crystal the modes are its 3N−3 Γ modes and the Debye–Waller factors come from all of them.
    """
    config = config or InsConfig()
    xs = cross_sections(structure.numbers, structure.masses, config.cross_section)
    return make_spectrum_fn(structure.masses, xs, vibrational_basis(structure), config)


def simulate(structure, hessian, config: InsConfig | None = None, *, resolution_scale: float = 1.0) -> xr.Dataset:
    """Simulated INS spectrum of ``structure`` with ``hessian`` ((3N, 3N), eV/Å²).

    Returns an xarray.Dataset with dimension ``energy`` (bin centres, cm⁻¹ or meV), variables
    ``order_1`` … ``order_n`` and ``total`` (intensity density per energy unit, arbitrary absolute scale),
    and ``frequency`` over dimension ``mode`` (cm⁻¹). Imaginary / sub-cutoff modes are excluded with a warning.
    """
    config = config or InsConfig()
    hessian = validate_hessian(hessian, n_atoms=structure.n_atoms, source=f"Hessian of {structure.name}")
    modes = normal_modes(structure, hessian)
    freqs = np.asarray(modes.frequencies_cm1)
    n_imag = int(np.sum(freqs < (-1.0 if getattr(structure, "is_crystal", False) else 0.0)))  # crystal: zero-mode noise tolerated
    if n_imag:
        warnings.warn(f"{structure.name}: {n_imag} imaginary mode(s) (lowest {freqs.min():.1f} cm⁻¹) excluded from the "
                      "spectrum; optimise the geometry", HessfitWarning, stacklevel=2)
    fn = spectrum_fn_for(structure, config)
    spectra = np.asarray(fn(jnp.asarray(hessian), resolution_scale))
    ds = to_dataset(spectra, config, frequencies_cm1=freqs, name=structure.name, formula=structure.formula)
    ds.attrs["structure_kind"] = "crystal" if getattr(structure, "is_crystal", False) else "molecule"
    return ds


def to_dataset(spectra: np.ndarray, config: InsConfig, *, frequencies_cm1=None, name: str = "", formula: str = "",
               resolution_scale: float = 1.0) -> xr.Dataset:
    """Wrap a (max_order, n_bins) array (density per cm⁻¹) as a labelled Dataset in ``config.units``."""
    instrument = load_instrument(config.instrument)
    energies = config.e_min_cm1 + (np.arange(config.n_bins) + 0.5) * config.bin_width_cm1
    scale = 1.0
    unit = "cm-1"
    if config.units == "meV":
        energies = energies / CM1_PER_MEV
        scale = CM1_PER_MEV  # density per meV
        unit = "meV"
    data = {f"order_{k + 1}": ("energy", spectra[k] * scale, {"units": f"arb./{unit}", "long_name": f"order {k + 1}"})
            for k in range(spectra.shape[0])}
    data["total"] = ("energy", spectra.sum(0) * scale, {"units": f"arb./{unit}", "long_name": "all orders"})
    coords = {"energy": ("energy", energies, {"units": unit, "long_name": "energy transfer"})}
    if frequencies_cm1 is not None:
        coords["mode"] = ("mode", np.arange(1, len(frequencies_cm1) + 1))
        data["frequency"] = ("mode", np.asarray(frequencies_cm1), {"units": "cm-1"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(dict(
        molecule=name, formula=formula, instrument=instrument.name, temperature_K=config.temperature_k,
        max_order=config.max_order, cross_section=config.cross_section, energy_units=unit,
        final_energy_cm1=instrument.final_energy_cm1, angles_deg=list(instrument.angles_deg),
        resolution_cm1=list(instrument.resolution_cm1), resolution_scale=resolution_scale,
        wing_a_iso_A2=config.wing_a_iso, mode_cutoff_cm1=config.mode_cutoff_cm1, software="hessfit",
    ))
    return ds


def save_spectrum(ds: xr.Dataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Save as NetCDF (.nc), CSV (.csv: energy and every order) or two-column text (.dat/.txt: energy, total)."""
    from hessfit.structures import check_writable

    path = check_writable(path, overwrite)
    suffix = path.suffix.lower()
    attrs = {k: (str(v) if isinstance(v, (list, tuple, bool)) else v) for k, v in ds.attrs.items()}
    if suffix == ".nc":
        ds.assign_attrs(attrs).to_netcdf(path, engine="h5netcdf")
    elif suffix == ".csv":
        ds.drop_vars([v for v in ds.data_vars if "energy" not in ds[v].dims]).to_dataframe().to_csv(path)
    elif suffix in (".dat", ".txt"):
        header = "\n".join(f"{k} = {v}" for k, v in attrs.items())
        unit = ds["energy"].attrs.get("units", "cm-1")
        np.savetxt(path, np.column_stack([ds["energy"].values, ds["total"].values]),
                   header=f"{header}\nenergy_{unit}  intensity", fmt="%.6f %.8e")
    else:
        raise ConfigError(f"{path}: unknown spectrum format {suffix!r}; use .nc, .csv, .dat or .txt")
    return path


def plot_spectrum(ds: xr.Dataset, *, ax=None, orders: bool = True, label: str | None = None):
    """Plot the total spectrum (and each order) against energy; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    e = ds["energy"].values
    ax.plot(e, ds["total"].values, color="k", lw=1.2, label=label or "total")
    if orders:
        for v in sorted(k for k in ds.data_vars if k.startswith("order_")):
            ax.plot(e, ds[v].values, lw=0.8, alpha=0.8, label=v.replace("_", " "))
    ax.set_xlabel(f"energy transfer ({ds['energy'].attrs.get('units', 'cm-1').replace('cm-1', 'cm$^{-1}$')})")
    ax.set_ylabel("S (arb. units)")
    title = f"{ds.attrs.get('molecule', '')} {ds.attrs.get('instrument', '')} {ds.attrs.get('temperature_K', '')} K"
    ax.set_title(title.strip())
    ax.set_xlim(e[0], e[-1])
    ax.legend(frameon=False)
    return ax
