"""Hessian datasets built from molecules: SMILES or structures → geometry → Hessian from any source, resumably,
in parallel (Dask), into the compact .npz format of docs/dataset_format.md (read with
`hessfit.structures.load_dataset`). A pipeline over `hessfit.sources`, not a source itself.
"""

from hessfit.dataset._build import (BuildReport, build_dataset, compute_entry, concat_datasets, dataset_keys,
                                    dataset_summary, failures_path, merge_parts, parts_dir, read_build_input,
                                    read_failures, smiles_to_structure)

__all__ = ["build_dataset", "BuildReport", "dataset_summary", "smiles_to_structure", "compute_entry",
           "read_build_input", "concat_datasets", "merge_parts", "dataset_keys", "read_failures", "failures_path",
           "parts_dir"]
