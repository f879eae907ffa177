"""A resumable run folder, shared by training and fine-tuning.

Layout: a JSON settings file (checked against the saved copy before a run resumes), ``checkpoint.msgpack`` (the
full optimisation state, flax-serialised, written atomically) and ``history.json`` (one record per epoch or step).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from hessfit.errors import ConfigError


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file of this process, then rename: an interrupted write
    never leaves half a file, and a concurrent reader or writer sees a whole file or none."""
    tmp = path.with_suffix(f"{path.suffix}.tmp{os.getpid()}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def _flatten(d: dict, prefix: str = "") -> dict:
    """``{"train": {"lr": 1}}`` → ``{"train.lr": 1}`` (one level of nesting per dict)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class RunFolder:
    """A run folder ``path`` (created): settings file, atomic checkpoints of a state dict, history, resume.

    ``checkpoint_every_s``: `maybe_save` writes at most this often; `save` always writes.
    """

    def __init__(self, path: str | Path, settings_name: str = "config.json", checkpoint_every_s: float = 300.0):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.settings_path = self.path / settings_name
        self.checkpoint_path = self.path / "checkpoint.msgpack"
        self.history_path = self.path / "history.json"
        self.checkpoint_every_s = checkpoint_every_s
        self._last_save = time.time()

    def saved_settings(self) -> dict | None:
        return json.loads(self.settings_path.read_text()) if self.settings_path.exists() else None

    def settings_changes(self, settings: dict, may_change=(), saved: dict | None = None) -> dict:
        """``{dotted key: (saved, new)}`` for settings that differ from the saved ones, except ``may_change``."""
        saved = self.saved_settings() if saved is None else saved
        if saved is None:
            return {}
        old, new = _flatten(saved), _flatten(json.loads(json.dumps(settings, default=str)))
        return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k) and k not in may_change}

    def require_same_settings(self, settings: dict, may_change=(), saved: dict | None = None) -> None:
        """Raise ConfigError when the saved settings differ from ``settings`` (apart from ``may_change``)."""
        diff = self.settings_changes(settings, may_change, saved)
        if diff:
            raise ConfigError(f"{self.settings_path}: the run in this folder was made with other settings "
                              f"(saved, requested): {diff}; use a new --out folder or the same settings")

    def write_settings(self, settings: dict) -> None:
        atomic_write(self.settings_path, json.dumps(settings, indent=2, default=str))

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def load(self, template: dict) -> tuple[dict, list]:
        """The checkpointed state (restored into the structure of ``template``) and the history."""
        from flax import serialization

        state = serialization.from_bytes(template, self.checkpoint_path.read_bytes())
        history = json.loads(self.history_path.read_text()) if self.history_path.exists() else []
        return state, history

    def save(self, state: dict, history: list) -> None:
        from flax import serialization

        atomic_write(self.checkpoint_path, serialization.to_bytes(state))
        atomic_write(self.history_path, json.dumps(history, indent=1))
        self._last_save = time.time()

    def maybe_save(self, state: dict, history: list) -> None:
        """`save` when ``checkpoint_every_s`` have passed since the last save."""
        if time.time() - self._last_save > self.checkpoint_every_s:
            self.save(state, history)
