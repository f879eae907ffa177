"""Fine-tune the NequIP Hessian model on measured INS spectra (spectral losses + regularisers toward the pretrained
model). See docs/finetune.md.

Public API: `FinetuneConfig`, `SpectrumEntry`, `load_spectra_set`, `prepare_entry`, `load_entries`,
`trainable_mask`, `Objective`, `make_replay`, `finetune`, `finetune_from_toml`, `FinetuneResult`.
"""

from hessfit.finetune._config import TRAINABLE, FinetuneConfig, SpectrumEntry, load_spectra_set
from hessfit.finetune._finetune import (FinetuneResult, Objective, finetune, finetune_from_toml, load_entries,
                                        make_replay)
from hessfit.finetune._loss import (PreparedEntry, ReplayTerm, SpectralTerm, param_l2, prepare_entry,
                                    trainable_mask)

__all__ = ["FinetuneConfig", "SpectrumEntry", "TRAINABLE", "load_spectra_set", "PreparedEntry", "prepare_entry",
           "load_entries", "trainable_mask", "param_l2", "SpectralTerm", "ReplayTerm", "Objective", "make_replay",
           "finetune", "finetune_from_toml", "FinetuneResult"]

from hessfit._precision import float64_exports  # noqa: E402

float64_exports(globals(), ["finetune", "finetune_from_toml"])  # float64 without a global switch
