"""hessfit: Hessians from an equivariant network, differentiable INS spectra, refinement against experiment."""

import jax as _jax

_jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
