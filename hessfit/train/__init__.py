"""Training and evaluation of the Hessian models (a side branch only `hessfit.model` users need).

Public API: `TrainConfig`, `train`, `TrainResult`, `split_indices`, `make_loss_fn` (probe loss for energy models,
`make_probe_loss_fn`; exact full-Hessian loss for block models, `make_block_loss_fn`), `evaluate`, the
ensemble weight choice (`weight_scan`, `choose_weight`).
"""

from hessfit.train._config import TrainConfig, dataset_files
from hessfit.train._data import batch_shapes, make_batch, plan_batches, prepare, split_indices
from hessfit.train._loss import make_block_loss_fn, make_full_hessian_loss_fn, make_loss_fn, make_probe_loss_fn
from hessfit.train._trainer import TrainResult, train

# after the training names: evaluation imports the model package, which must find them defined
from hessfit.train._evaluate import (EvalResult, evaluate, hessian_metrics, network_predict_fn,  # noqa: E402
                                     ood_dataset_paths, plot_evaluation, source_predict_fn, summarise, summary_line,
                                     write_evaluation)
from hessfit.train._ensemble_weight import SCAN_KEYS, choose_weight, format_scan, weight_scan  # noqa: E402

__all__ = ["TrainConfig", "dataset_files", "train", "TrainResult", "split_indices", "prepare", "batch_shapes",
           "plan_batches", "make_batch", "make_probe_loss_fn", "make_block_loss_fn", "make_loss_fn",
           "make_full_hessian_loss_fn",
           "SCAN_KEYS", "weight_scan", "choose_weight", "format_scan", "evaluate", "EvalResult", "hessian_metrics",
           "summarise", "plot_evaluation", "write_evaluation", "network_predict_fn", "source_predict_fn",
           "ood_dataset_paths", "summary_line"]

from hessfit._precision import float64_exports  # noqa: E402

float64_exports(globals(), ["train", "evaluate", "weight_scan"])  # float64 without a global switch
