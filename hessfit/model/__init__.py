"""A NequIP energy model on e3nn-jax whose second derivative is the Hessian, and a direct block model
(HIP-style) that predicts the 3×3 Hessian blocks in one forward pass, and ensembles (weighted means) of them.

Public API: `ModelConfig`, `Model`, `Ensemble`, `load_model`, `save_ensemble`, `save_model`, `predict_hessian`, `predict_hessians`,
the pure-function factories `make_energy_fn`, `make_hvp_fn`, `make_hessian_fn`, graph packing (`pack`,
`Graph`, `PackedBatch`) and the layer (`NequIPLayer`, `nequip_layer`).
"""

from hessfit.model._blocks import BlockModel, batch_hessians_direct, make_direct_hessian_fn
from hessfit.model._config import PRESETS, ModelConfig
from hessfit.model._ensemble import Ensemble
from hessfit.model._energy import EnergyModel, cast_params, init_params, make_energy_fn
from hessfit.model._graph import (Graph, PackedBatch, bucket_atoms, bucket_edges, group_by_size, molecule_index,
                                  neighbour_pairs, pack, species_index)
from hessfit.model._hessian import batch_hessians, column_ids, make_hessian_fn, make_hvp_fn
from hessfit.model._io import (BLOCKS_WEIGHTS, DEFAULT_WEIGHTS, ENERGY_WEIGHTS, ENSEMBLE_WEIGHTS, Model,
                               check_config_compatible, load_model, model_path, save_ensemble, save_model,
                               shipped_model_names)
from hessfit.model._layer import NequIPLayer, nequip_layer, radial_basis
from hessfit.model._predict import predict_hessian, predict_hessians

__all__ = [
    "ModelConfig", "PRESETS", "Model", "Ensemble", "load_model", "save_model", "save_ensemble", "DEFAULT_WEIGHTS",
    "ENERGY_WEIGHTS", "BLOCKS_WEIGHTS", "ENSEMBLE_WEIGHTS",
    "shipped_model_names", "model_path", "check_config_compatible", "BlockModel", "batch_hessians_direct",
    "make_direct_hessian_fn",
    "predict_hessian", "predict_hessians",
    "EnergyModel", "init_params", "cast_params", "make_energy_fn", "make_hvp_fn", "make_hessian_fn", "batch_hessians",
    "column_ids", "group_by_size", "molecule_index",
    "Graph", "PackedBatch", "pack", "neighbour_pairs", "species_index", "bucket_atoms", "bucket_edges",
    "NequIPLayer", "nequip_layer", "radial_basis",
]

from hessfit._precision import float64_exports  # noqa: E402

# float64 without a global switch
float64_exports(globals(), ["predict_hessian", "predict_hessians", "batch_hessians", "batch_hessians_direct"])
