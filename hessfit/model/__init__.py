"""A NequIP energy model on e3nn-jax whose second derivative is the Hessian, and a direct block model
(HIP-style) that predicts the 3×3 Hessian blocks in one forward pass, ensembles (weighted means) of them, and
cascades (a sounder network only where the first has an imaginary mode).

Public API: `ModelConfig`, `Model`, `Ensemble`, `Cascade`, `load_model`, `save_ensemble`, `save_cascade`,
`save_model`, `predict_hessian`, `predict_hessians`, per-class ensemble weights (`combine_by_class`),
the pure-function factories `make_energy_fn`, `make_hvp_fn`, `make_hessian_fn`, graph packing (`pack`,
`Graph`, `PackedBatch`) and the layer (`NequIPLayer`, `nequip_layer`).

Names are imported from their modules when first used (PEP 562): a command that finds its traced network
program in the trace cache (`hessfit.model._trace_cache`) never imports e3nn-jax or flax.linen (~1.5 s).
"""

from __future__ import annotations

import importlib

_WHERE = {
    "_blocks": ["BlockModel", "make_direct_hessian_fn"],
    "_cascade": ["CASCADE_THRESHOLD_CM1", "Cascade", "choose_sounder", "domain_network", "known_elements",
                 "lowest_internal_frequency", "network_leaves"],
    "_config": ["PRESETS", "ModelConfig"],
    "_ensemble": ["Ensemble", "check_convex_weights"],
    "_energy": ["EnergyModel", "cast_params", "init_params", "make_energy_fn"],
    "_graph": ["Graph", "PackedBatch", "bucket_atoms", "bucket_edges", "group_by_size", "molecule_index",
               "neighbour_pairs", "pack", "periodic_neighbour_pairs", "species_index"],
    "_hessian": ["batch_hessians", "batch_hessians_direct", "column_ids", "make_hessian_fn", "make_hvp_fn"],
    "_io": ["BLOCKS_WEIGHTS", "CASCADE_WEIGHTS", "DEFAULT_WEIGHTS", "WEIGHTS_DIR", "ENERGY_WEIGHTS",
            "ENSEMBLE_WEIGHTS", "Model",
            "check_config_compatible", "load_model", "model_path", "save_cascade", "save_ensemble", "save_model",
            "shipped_model_names"],
    "_layer": ["NequIPLayer", "nequip_layer", "radial_basis"],
    "_pair_classes": ["PAIR_CLASSES", "combine_by_class", "pair_class_index"],
    "_predict": ["predict_hessian", "predict_hessians"],
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
#: run in float64 without a global switch (hessfit._precision)
_FLOAT64 = {"predict_hessian", "predict_hessians", "batch_hessians", "batch_hessians_direct"}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'hessfit.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hessfit.model.{module}"), name)
    if name in _FLOAT64:
        from hessfit._precision import float64

        value = float64(value)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
