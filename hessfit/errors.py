"""hessfit's exception hierarchy. Messages say what went wrong, where (file or field) and how to fix it."""


class HessfitError(Exception):
    """Base class of every error hessfit raises on purpose; the CLI prints it as one line."""


class InputFormatError(HessfitError):
    """A file could not be parsed (malformed, truncated, unknown element, wrong format)."""


class ValidationError(HessfitError):
    """Parsed data is inconsistent (wrong shape, NaN, asymmetric Hessian, atom-count mismatch)."""


class ConfigError(HessfitError):
    """A configuration value or option is invalid."""


class ConvergenceError(HessfitError):
    """An iterative procedure failed to converge."""


class MissingDependencyError(HessfitError):
    """An optional backend is not installed; the message names the extra to install."""
