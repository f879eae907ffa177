"""Normal modes from a Cartesian Hessian (mass weighting, Eckart projection, safe eigendecomposition)."""

from hessfit.modes._crystal import (acoustic_sum_rule_error, crystal_basis, crystal_modes, group_translation_basis,
                                    interacting_groups, lattice_character, sum_rule_hessian,
                                    translation_basis)
from hessfit.modes._eigh import safe_eigh
from hessfit.modes._solve import (Modes, internal_basis, modes_from_hessian, normal_modes, rigid_body_basis,
                                  vibrational_basis, without_rigid_body_motion)
from hessfit.modes._thermo import THERMO_TEMPERATURES_K, VibrationalThermo, thermo_table, vibrational_thermo

__all__ = ["Modes", "normal_modes", "modes_from_hessian", "internal_basis", "rigid_body_basis", "vibrational_basis",
           "without_rigid_body_motion", "safe_eigh", "crystal_basis", "crystal_modes", "lattice_character",
           "acoustic_sum_rule_error",
           "translation_basis", "group_translation_basis", "interacting_groups", "sum_rule_hessian", "vibrational_thermo", "thermo_table", "VibrationalThermo", "THERMO_TEMPERATURES_K"]

from hessfit._precision import float64_exports  # noqa: E402

# (modes_from_hessian is a differentiable building block used inside traced code: caller's precision)
float64_exports(globals(), ["normal_modes", "vibrational_thermo", "thermo_table"])  # float64 without a global switch
