"""Shared setup of the CLI tests: no persistent compilation cache in the user's home (tests that need it set
their own folder), and the fixtures of the stage test folders the CLI tests reuse."""

import os

os.environ["HESSFIT_NO_COMPILE_CACHE"] = "1"

from tests.compare.conftest import hexane  # noqa: E402,F401
from tests.model.conftest import tiny_block_model, tiny_config, tiny_model, tiny_params  # noqa: E402,F401
from tests.sources.conftest import ethanol, water  # noqa: E402,F401
