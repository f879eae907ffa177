"""`Model` (config + parameters + metadata) and the on-disk form of models and ensembles, in one place: a model is
a folder with ``model.json`` and ``params.msgpack`` (flax serialisation); an ensemble (`hessfit.model.Ensemble`) or
a cascade (`hessfit.model.Cascade`) is a folder with ``model.json`` only. ``load_model(None)`` loads the package's
default (the shipped cascade ``cascade_pairclass``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import jax
import numpy as np

from hessfit.errors import ConfigError, InputFormatError
from hessfit.model._config import ModelConfig
from hessfit.model._cascade import CASCADE_FORMAT, Cascade
from hessfit.model._ensemble import ENSEMBLE_FORMAT, Ensemble

#: the pretrained models shipped inside the package: energy and direct block models, their ensembles and cascades
#: (the default: a cascade whose primary combines an energy and a block network per atom-pair class, below)
WEIGHTS_DIR = Path(__file__).parent / "weights"
ENERGY_WEIGHTS = WEIGHTS_DIR / "nequip_qm9"
BLOCKS_WEIGHTS = WEIGHTS_DIR / "blocks_qm9"
#: the default's primary: nequip_qm9 and blocks_qm9 combined with convex weights per atom-pair class, fitted on
#: QM9 validation Hessians (docs/class_stacking.md)
ENSEMBLE_WEIGHTS = WEIGHTS_DIR / "ensemble_pairclass"
#: the default: ``ensemble_pairclass``, and where its Hessian has a mode below −20 cm⁻¹ the least blend with the
#: hinge-trained ``ensemble_hinge_mf`` that lifts it (docs/model_card_pairclass.md; the previous defaults
#: ``cascade_stacked``, ``cascade_pooled`` and ``cascade_mf``: docs/model_card_stacked.md, docs/model_card_pooled.md,
#: docs/model_card_cascade.md)
CASCADE_WEIGHTS = WEIGHTS_DIR / "cascade_pairclass"
DEFAULT_WEIGHTS = CASCADE_WEIGHTS


def shipped_model_names() -> list[str]:
    """Names of the model folders shipped in the package (usable as ``load_model(name)`` / ``--model name``)."""
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / "model.json").exists())


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
    """A trained energy model.

    Attributes:
        config: the architecture.
        params: flax parameter tree (arrays in ``config.dtype``).
        metadata: training data summary (element set, molecule sizes, shortest distances per element pair in Å),
            training settings and test metrics; free-form JSON-able dict.
    """

    config: ModelConfig
    params: dict
    metadata: dict = dataclasses.field(default_factory=dict)


def save_model(path: str | Path, model: Model) -> Path:
    """Write ``model.json`` and ``params.msgpack`` into folder ``path`` (created; files replaced)."""
    from flax import serialization

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    params = jax.tree_util.tree_map(np.asarray, model.params)
    (path / "params.msgpack").write_bytes(serialization.msgpack_serialize(params))
    doc = {"format": "hessfit-nequip-1", "config": model.config.to_dict(), "metadata": model.metadata}
    (path / "model.json").write_text(json.dumps(doc, indent=2, default=_jsonable))
    return path


def _jsonable(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def model_path(path: str | Path, base: str | Path | None = None) -> Path:
    """The model folder ``path`` names: ``base / path`` when that holds a model (an ensemble's members), else
    ``path`` itself, or the shipped model folder of that name (``"blocks_qm9"``) when no such path exists here."""
    path = Path(path)
    if base is not None and (Path(base) / path / "model.json").exists():
        return Path(base) / path
    if not path.exists() and len(path.parts) == 1 and (WEIGHTS_DIR / path.name / "model.json").exists():
        return WEIGHTS_DIR / path.name
    return path


def load_model(path: str | Path | None = None, _cache: dict | None = None):
    """Load a model folder (or its ``model.json``): a `Model`, an `~hessfit.model.Ensemble` of models or a
    `~hessfit.model.Cascade` of two. None loads
    the shipped default (``cascade_pairclass``); the name of a shipped model (``"nequip_qm9"``, ``"blocks_qm9"``,
    ``"ensemble_qm9"``, ``"ensemble_mf"``, ``"cascade_mf"``, ...) loads that one when no such folder exists here.
    ``_cache`` ({resolved folder: model}) makes the networks that a cascade's primary and fallback share one object,
    so that each is predicted once."""
    from flax import serialization

    path = DEFAULT_WEIGHTS if path is None else model_path(path)
    if path.is_file() and path.name == "model.json":
        path = path.parent
    key = str(path.resolve())
    if _cache is not None and key in _cache:
        return _cache[key]
    if not (path / "model.json").exists():
        raise InputFormatError(f"{path}: not a hessfit model folder: expected model.json (and params.msgpack) "
                               f"(or a shipped model name: {', '.join(shipped_model_names())})")
    try:
        doc = json.loads((path / "model.json").read_text())
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path / 'model.json'}: invalid JSON ({exc.msg}, line {exc.lineno})") from None
    if doc.get("format") == ENSEMBLE_FORMAT:
        return load_ensemble(path, doc, _cache)
    if doc.get("format") == CASCADE_FORMAT:
        return load_cascade(path, doc)
    if doc.get("format") != "hessfit-nequip-1":
        raise InputFormatError(f"{path / 'model.json'}: unknown model format {doc.get('format')!r}")
    if not (path / "params.msgpack").exists():
        raise InputFormatError(f"{path}: not a hessfit model folder: model.json without params.msgpack")
    config = ModelConfig.from_dict(doc["config"])
    try:
        raw = serialization.msgpack_restore((path / "params.msgpack").read_bytes())
    except Exception as exc:  # msgpack raises several types
        raise InputFormatError(f"{path / 'params.msgpack'}: cannot read parameters ({type(exc).__name__})") from None
    params = jax.tree_util.tree_map(lambda a: np.asarray(a, config.dtype), raw)
    model = Model(config=config, params=params, metadata=doc.get("metadata", {}))
    if _cache is not None:
        _cache[key] = model
    return model


def save_ensemble(path: str | Path, references: Sequence[str], weights: Sequence[float],
                  metadata: dict | None = None, class_weights: Sequence[Sequence[float]] | None = None) -> Path:
    """Write an ensemble folder (``model.json`` only) naming its members by ``references`` (shipped model names or
    folders relative to ``path``); ``class_weights``: one row per member, in the order of
    `hessfit.model._pair_classes.PAIR_CLASSES` (stored as {class: weight}). Returns the folder."""
    from hessfit.model import PAIR_CLASSES

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    members = [{"model": str(r), "weight": float(w)} for r, w in zip(references, weights, strict=True)]
    if class_weights is not None:
        for entry, row in zip(members, class_weights, strict=True):
            entry["class_weights"] = dict(zip(PAIR_CLASSES, (float(x) for x in row), strict=True))
    doc = {"format": ENSEMBLE_FORMAT, "members": members, "metadata": metadata or {}}
    (path / "model.json").write_text(json.dumps(doc, indent=2))
    return path


def with_fidelities(model: Model, n_fidelities: int) -> Model:
    """``model`` as a network of ``n_fidelities`` levels of theory (a multiple of its own) that predicts what it
    predicts (to rounding: identical in float64, ~1e-7 relative in float32): its species-indexed tables
    (self-connections, energy scale and shift) are repeated for the new levels, which predictions never use, and
    the species embedding, a linear map of the one-hot species normalised by 1/√(number of species), is repeated
    and scaled by √(n_fidelities / its levels). Members of one architecture then share one compiled program
    (`harmonise_members`). Raises ValueError for a level count that is not a multiple, or parameters without the
    species embedding."""
    from flax.core import unfreeze

    c = model.config
    k, rem = divmod(n_fidelities, c.n_fidelities)
    if rem or k < 1:
        raise ValueError(f"n_fidelities {n_fidelities} is not a multiple of the model's {c.n_fidelities}")
    if k == 1:
        return model
    params = unfreeze(model.params)
    if not isinstance(params.get("params", {}).get("embedding"), dict):
        raise ValueError("the parameters have no species embedding ('params' → 'embedding')")
    n_old = c.n_species

    def lift(path, x):
        keys = [getattr(p, "key", None) for p in path]
        x = np.asarray(x)
        if keys[:2] == ["params", "embedding"]:
            return np.tile(x, (k, 1)) * np.asarray(np.sqrt(k), x.dtype)
        if "self_connection" in keys or keys[:2] in (["params", "energy_scale"], ["params", "energy_shift"]):
            return np.concatenate([x] * k, axis=0)
        return x

    params = jax.tree_util.tree_map_with_path(lift, params)
    params["params"]["embedding"] = {key.replace(f" {n_old}x0e,", f" {n_old * k}x0e,"): w
                                     for key, w in params["params"]["embedding"].items()}
    return Model(dataclasses.replace(c, n_fidelities=n_fidelities), params, model.metadata)


def _architecture(model: Model) -> ModelConfig:
    return dataclasses.replace(model.config, n_fidelities=1)


def _most_levels(networks) -> dict:
    """{architecture: the most levels of theory any of ``networks`` of that architecture has}."""
    levels: dict = {}
    for m in networks:
        levels[_architecture(m)] = max(levels.get(_architecture(m), 1), m.config.n_fidelities)
    return levels


def harmonise_members(members: Sequence[Model], lifted: dict | None = None,
                      levels: dict | None = None) -> list[Model]:
    """Members that differ only in their number of levels of theory, lifted to the largest (`with_fidelities`), so
    that each architecture is traced and compiled once (the default cascade mixes single- and two-level
    networks); the predictions are unchanged. ``levels`` ({architecture: levels}; default: from ``members``)
    sets the targets; ``lifted`` memoises the lifted networks by (id of the original, levels), so that a network
    shared by a cascade's primary and fallback stays one object. A member that cannot be lifted is kept."""
    lifted = {} if lifted is None else lifted
    levels = _most_levels(members) if levels is None else levels
    out = []
    for m in members:
        n = levels.get(_architecture(m), m.config.n_fidelities)
        key = ("lifted", id(m), n)
        if n != m.config.n_fidelities and key not in lifted:
            try:
                lifted[key] = with_fidelities(m, n)
            except ValueError:
                lifted[key] = m
        out.append(lifted.get(key, m))
    return out


def _harmonise_cascade(primary, fallback, lifted: dict) -> tuple:
    """Primary and fallback with every network lifted to the most levels its architecture has in either part."""
    from hessfit.model._cascade import network_leaves

    if isinstance(primary, Cascade) or isinstance(fallback, Cascade):
        return primary, fallback  # refused by Cascade itself, with its own message
    levels = _most_levels(network_leaves(primary) + network_leaves(fallback))

    def part(model):
        if isinstance(model, Ensemble):
            return dataclasses.replace(model, members=tuple(harmonise_members(model.members, lifted, levels)))
        return harmonise_members([model], lifted, levels)[0]

    return part(primary), part(fallback)


def load_ensemble(path: Path, doc: dict, _cache: dict | None = None) -> Ensemble:
    """The ensemble described by ``doc`` (the parsed ``path/model.json``); members loaded with `load_model` and
    harmonised (`harmonise_members`)."""
    from hessfit.model import PAIR_CLASSES

    members, weights, refs, class_rows = [], [], [], []
    for entry in doc.get("members") or []:
        cw = entry.get("class_weights")
        if cw is not None:
            if not isinstance(cw, dict) or set(cw) != set(PAIR_CLASSES):
                raise InputFormatError(f"{path / 'model.json'}: class_weights of {entry.get('model')!r} must name "
                                       f"the classes {', '.join(PAIR_CLASSES)}")
            class_rows.append([cw[c] for c in PAIR_CLASSES])  # Ensemble checks the values
        ref = str(entry.get("model", ""))
        member = load_model(model_path(ref, base=path), _cache)
        if isinstance(member, (Ensemble, Cascade)):
            raise InputFormatError(f"{path / 'model.json'}: member {ref!r} is itself an ensemble or a cascade")
        members.append(member)
        weights.append(entry.get("weight", float("nan")))  # Ensemble checks the values
        refs.append(ref)
    try:
        if class_rows and len(class_rows) != len(members):
            raise ValueError("class_weights are given for some members and not for others")
        return Ensemble(tuple(harmonise_members(members, _cache)), tuple(weights), doc.get("metadata", {}),
                        tuple(refs), tuple(map(tuple, class_rows)) if class_rows else None)
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"{path / 'model.json'}: {exc}") from None


def save_cascade(path: str | Path, primary: str, fallback: str, threshold_cm1: float = -50.0,
                 metadata: dict | None = None, blend_steps: int = 0) -> Path:
    """Write a cascade folder (``model.json`` only) naming primary and fallback (shipped model names or folders
    relative to ``path``), the threshold (cm⁻¹) and the blend steps (`hessfit.model.Cascade`). Returns the folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc = {"format": CASCADE_FORMAT, "primary": str(primary), "fallback": str(fallback),
           "threshold_cm1": float(threshold_cm1), "blend_steps": int(blend_steps), "metadata": metadata or {}}
    (path / "model.json").write_text(json.dumps(doc, indent=2))
    return path


def load_cascade(path: Path, doc: dict) -> Cascade:
    """The cascade described by ``doc`` (the parsed ``path/model.json``); primary and fallback loaded with
    `load_model`."""
    refs = [str(doc.get("primary", "")), str(doc.get("fallback", ""))]
    if not all(refs):
        raise InputFormatError(f"{path / 'model.json'}: a cascade needs 'primary' and 'fallback'")
    cache: dict = {}  # a network in both primary and fallback is loaded (and predicted) once
    try:
        parts = [load_model(model_path(ref, base=path), cache) for ref in refs]
    except InputFormatError as exc:
        raise InputFormatError(f"{path / 'model.json'}: {exc}") from None
    parts = _harmonise_cascade(parts[0], parts[1], cache)
    try:
        return Cascade(parts[0], parts[1], float(doc.get("threshold_cm1", -50.0)), doc.get("metadata", {}),
                       tuple(refs), doc.get("blend_steps", 0))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputFormatError(f"{path / 'model.json'}: {exc}") from None


def check_config_compatible(saved: dict, current: ModelConfig) -> None:
    saved = ModelConfig.from_dict(saved).to_dict()  # fields added later take their defaults
    if saved != current.to_dict():
        diff = {k: (saved.get(k), v) for k, v in current.to_dict().items() if saved.get(k) != v}
        raise ConfigError(f"model config differs from the one saved with the run (saved, requested): {diff}; "
                          "use a new --out folder or the same settings")
