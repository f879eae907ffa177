"""CLI commands (registered on hessfit.cli.app)."""
