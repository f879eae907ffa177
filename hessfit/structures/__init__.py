"""Structures and Hessians in: readers, writers, element data, validation, internal coordinates, crystals
(molecules across periodic boundaries, supercells) and X-ray hydrogen positions (detection, normalisation)."""

from hessfit.structures._elements import CROSS_SECTIONS_BARN, DEUTERIUM_MASS, cross_sections, standard_mass
from hessfit.structures._hessian import HessfitWarning, read_hessian, validate_hessian, write_hessian
from hessfit.structures._structure import Structure, read_structure, read_structures, write_xyz
from hessfit.structures._crystal import (MoleculeAssignment, describe_structure, find_molecules, make_whole,
                                         require_crystal, split_intermolecular, supercell)
from hessfit.structures._dataset import HessianDataset, concat_datasets, from_arrays, load_dataset, save_dataset
from hessfit.structures._files import check_writable
from hessfit.structures._hydrogens import (NEUTRON_XH_ANGSTROM, SHORT_XH_TOLERANCE_ANGSTROM, hydrogen_bonds,
                                            hydrogen_problem, normalize_hydrogens, short_hydrogen_bonds,
                                            warn_hydrogen_positions)
from hessfit.structures._frequency_dataset import (FrequencyDataset, frequency_dataset_from_arrays,
                                                   load_frequency_dataset, save_frequency_dataset)
from hessfit.structures._internal import (BOND_SCALE, InternalCoordinate, atom_environments, atom_groups,
                                          bonds_from_radii,
                                          internal_coordinates, pair_class_label, pair_classes,
                                          topological_distance, wilson_b)
from hessfit.structures.readers.spectrum import MeasuredSpectrum, read_spectrum

__all__ = [
    "Structure", "read_structure", "read_structures", "write_xyz",
    "read_hessian", "write_hessian", "validate_hessian", "HessfitWarning",
    "cross_sections", "standard_mass", "CROSS_SECTIONS_BARN", "DEUTERIUM_MASS",
    "HessianDataset", "load_dataset", "save_dataset", "concat_datasets", "MeasuredSpectrum", "read_spectrum",
    "InternalCoordinate", "internal_coordinates", "wilson_b", "topological_distance", "pair_classes",
    "pair_class_label", "bonds_from_radii", "atom_environments", "atom_groups", "BOND_SCALE",
    "MoleculeAssignment", "describe_structure", "find_molecules", "make_whole", "require_crystal", "supercell",
    "split_intermolecular",
    "from_arrays", "check_writable",
    "NEUTRON_XH_ANGSTROM", "SHORT_XH_TOLERANCE_ANGSTROM", "hydrogen_bonds", "short_hydrogen_bonds", "normalize_hydrogens",
    "warn_hydrogen_positions", "hydrogen_problem",
    "FrequencyDataset", "frequency_dataset_from_arrays", "load_frequency_dataset", "save_frequency_dataset",
]
