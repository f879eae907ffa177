"""Differentiable INS simulation (orders 1..10, Debye–Waller, instrument kinematics and resolution, wings)."""

from hessfit.ins._api import plot_spectrum, save_spectrum, simulate, spectrum_fn_for, to_dataset
from hessfit.ins._config import InsConfig
from hessfit.ins._crystal import concat_modes, external_mode_spectrum_fn, external_modes, lowest_node_cm1
from hessfit.ins._instrument import Instrument, available_instruments, load_instrument
from hessfit.ins._kinematics import q2_indirect
from hessfit.ins._simulate import make_modes_spectrum_fn, make_order1_intensity_fn, make_spectrum_fn, mode_tensors

__all__ = ["InsConfig", "Instrument", "load_instrument", "available_instruments", "q2_indirect", "simulate",
           "spectrum_fn_for", "make_spectrum_fn", "make_modes_spectrum_fn", "make_order1_intensity_fn", "mode_tensors", "to_dataset",
           "save_spectrum", "plot_spectrum", "external_mode_spectrum_fn", "external_modes", "lowest_node_cm1",
           "concat_modes"]

from hessfit._precision import float64_exports  # noqa: E402

float64_exports(globals(), ["simulate", "mode_tensors"])  # float64 without a global switch
