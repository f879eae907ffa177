"""Hessians of structures from a trained model: `predict_hessian` (one) and `predict_hessians` (many, batched)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from hessfit.model._graph import group_by_size, neighbour_pairs, pack, periodic_neighbour_pairs, species_index
from hessfit.model._hessian import INFERENCE_CHUNK, batch_hessians
from hessfit.model._cascade import Cascade, choose_sounder, domain_network, known_elements
from hessfit.model._ensemble import Ensemble
from hessfit.model._io import Model, load_model

_DEFAULT: Model | Ensemble | Cascade | None = None
_LOADED: dict[tuple[str, int], Model | Ensemble | Cascade] = {}


def _default_model() -> Model | Ensemble | Cascade:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_model(None)
    return _DEFAULT


def as_model(model: Model | Ensemble | Cascade | str | Path | None) -> Model | Ensemble | Cascade:
    """A loaded model: ``None`` → the shipped default; a shipped name (``"nequip_qm9"``, ``"blocks_qm9"``,
    ``"cascade_pairclass"``, ...) or a model folder → `load_model` (kept while its model.json is unchanged); a model as
    is."""
    if model is None:
        return _default_model()
    if isinstance(model, (str, Path)):
        from hessfit.model._io import model_path

        json_path = model_path(model) / "model.json"
        key = (str(json_path.resolve()), json_path.stat().st_mtime_ns if json_path.exists() else -1)
        if key not in _LOADED:
            _LOADED[key] = load_model(model)  # raises a one-line error for anything but a model folder
        return _LOADED[key]
    return model


def training_domain(metadata: dict) -> dict:
    """Sizes, shortest pair distances (Å) and atom environments (where every summary records them) over all of a
    model's training data: the main set (``training_data``) and every other level or frequency set
    (``extra_training_data``)."""
    summaries = [metadata.get("training_data", {})] + list(metadata.get("extra_training_data", []))
    summaries = [m for m in summaries if m]
    if not summaries:
        return {}
    dmin: dict[str, float] = {}
    for m in summaries:
        for pair, d in m.get("min_distance_angstrom", {}).items():
            dmin[pair] = min(d, dmin.get(pair, np.inf))
    sizes = [(m["min_atoms"], m["max_atoms"]) for m in summaries if m.get("max_atoms")]
    domain = {"min_atoms": min(a for a, _ in sizes) if sizes else None,
              "max_atoms": max(b for _, b in sizes) if sizes else None, "min_distance_angstrom": dmin}
    if all("atom_environments" in m for m in summaries):  # known only if known for every set
        domain["atom_environments"] = set().union(*(m["atom_environments"] for m in summaries))
    return domain


def check_domain(structure, model: Model, pairs=None) -> None:
    """Warn loudly when a structure lies outside the training data (unknown elements raise in species_index).
    A crystal: one warning that its intermolecular contacts are outside the training data (no size or lonely-atom
    checks: a cell's atoms have periodic neighbours)."""
    from hessfit.structures import HessfitWarning

    meta = training_domain(model.metadata)
    name = getattr(structure, "name", "molecule")
    if getattr(structure, "is_crystal", False):
        warnings.warn(f"{name}: periodic network Hessian of a crystal: its intermolecular blocks come from contacts "
                      "the network never saw in training (isolated molecules); see docs/crystal.md", HessfitWarning,
                      stacklevel=3)
        return
    max_atoms = meta.get("max_atoms")
    if max_atoms and structure.n_atoms > 2 * max_atoms:
        warnings.warn(f"{name}: {structure.n_atoms} atoms, the model was trained on molecules of "
                      f"{meta.get('min_atoms')}–{max_atoms} atoms; the Hessian is an extrapolation", HessfitWarning,
                      stacklevel=3)
    seen = meta.get("atom_environments")
    if seen is not None:
        from hessfit.structures import atom_environments

        envs = atom_environments(structure)
        new = [i for i, e in enumerate(envs) if e not in seen]
        if new:
            kinds = ", ".join(sorted({envs[i] for i in new}))
            atoms = ", ".join(str(i + 1) for i in new[:20]) + (f", … ({len(new)} atoms)" if len(new) > 20 else "")
            warnings.warn(f"{name}: atom(s) {atoms} (1-based) have bonding environments absent from the network's "
                          f"training data ({kinds}); expect larger errors (docs/out_of_domain.md); --source xtb is "
                          "the physics alternative", HessfitWarning, stacklevel=3)
    dmin = meta.get("min_distance_angstrom", {})
    if dmin and structure.n_atoms > 1:
        pos = structure.positions
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        iu = np.triu_indices(len(pos), 1)
        for i, j, dij in zip(iu[0], iu[1], d[iu]):
            a, b = sorted((int(structure.numbers[i]), int(structure.numbers[j])))
            ref = dmin.get(f"{a}-{b}")
            if ref is None:
                if dij < 1.0:
                    warnings.warn(f"{name}: atoms {i} and {j} ({a}-{b}) at {dij:.2f} Å, a pair never seen in "
                                  "training at short range; the Hessian is unreliable", HessfitWarning, stacklevel=3)
                    return
            elif dij < 0.85 * ref:
                warnings.warn(f"{name}: atoms {i} and {j} are {dij:.2f} Å apart, shorter than any {a}-{b} "
                              f"distance in the training data ({ref:.2f} Å); the Hessian is unreliable",
                              HessfitWarning, stacklevel=3)
                return
        if len(pos) > 1:
            np.fill_diagonal(d, np.inf)
            lonely = np.flatnonzero(d.min(axis=1) > model.config.cutoff_angstrom)
            if lonely.size:
                warnings.warn(f"{name}: atom(s) {lonely.tolist()} have no neighbour within the "
                              f"{model.config.cutoff_angstrom} Å cutoff; their Hessian rows are zero", HessfitWarning,
                              stacklevel=3)


def predict_hessians(structures: Sequence, model: Model | Ensemble | Cascade | str | Path | None = None, *,
                     max_atoms_per_batch: int = 400,
                     chunk_size: int = INFERENCE_CHUNK, progress: bool = False, check: bool = True) -> list[np.ndarray]:
    """Hessians (3N, 3N) float64 in eV/Å² for many structures, packing several molecules per padded graph.
    A crystal (``structure.is_crystal``) gets edges to the periodic images of its atoms within the cutoff: its
    Γ-point Hessian, intermolecular blocks included (which no training molecule had: see docs/crystal.md).

    Molecules are sorted by size and packed into graphs of at most ``max_atoms_per_batch`` atoms (one molecule
    per graph if it is larger); graphs are padded to size buckets so compiled code is reused. An `Ensemble`
    returns its combination of its members' Hessians (`Ensemble.combine`: the weighted mean, or per atom-pair
    class). ``check`` warns about structures outside the training
    data (`check_domain`). A `Cascade` returns its primary's Hessian, or its fallback's where the primary has a
    mode below the cascade's threshold and the fallback's lowest mode is higher (or the least blend of the two that
    passes, `choose_sounder`).
    ``model``: a loaded model, a shipped model's name or a model folder (`as_model`); None = the shipped default.
    """
    model = as_model(model)
    opts = dict(max_atoms_per_batch=max_atoms_per_batch, chunk_size=chunk_size, progress=progress)
    if isinstance(model, (Ensemble, Cascade)) and check:
        widest = domain_network(model)  # checked once, not per member
        for s in structures:
            check_domain(s, widest)
    if isinstance(model, Ensemble):  # Ensemble.combine of the members' Hessians
        return _shared_predictions(structures, model, {}, opts)
    if isinstance(model, Cascade):
        memo: dict = {}
        known = known_elements(model.fallback)

        def fallback(ss):  # None for a structure with an element the fallback does not know
            ok = [s for s in ss if set(int(z) for z in s.numbers) <= known]
            hs = dict(zip(map(id, ok), _shared_predictions(ok, model.fallback, memo, opts)))
            return [hs.get(id(s)) for s in ss]

        first = _shared_predictions(structures, model.primary, memo, opts)
        return choose_sounder(structures, first, fallback, model.threshold_cm1, model.blend_steps)[0]
    cfg = model.config
    prepared = []
    for s in structures:
        sp = species_index(s.numbers, cfg.elements, name=getattr(s, "name", "molecule"))
        if check:
            check_domain(s, model)
        pairs = (periodic_neighbour_pairs(s, cfg.cutoff_angstrom) if getattr(s, "is_crystal", False)
                 else neighbour_pairs(s.positions, cfg.cutoff_angstrom))  # a crystal: edges to periodic images
        prepared.append((sp, np.asarray(s.positions, float), pairs))
    groups = group_by_size([len(p[0]) for p in prepared], max_atoms_per_batch)
    out: list[np.ndarray | None] = [None] * len(prepared)
    it = groups
    if progress:
        from tqdm import tqdm

        it = tqdm(groups, desc="predict", unit="batch")
    for g in it:
        batch = pack([prepared[i][0] for i in g], [prepared[i][1] for i in g], cutoff_angstrom=cfg.cutoff_angstrom,
                     pairs_list=[prepared[i][2] for i in g])
        for i, h in zip(g, batch_hessians(cfg, model.params, batch, chunk_size=chunk_size)):
            out[i] = h
    return out


def _shared_predictions(structures: Sequence, model: Model | Ensemble, memo: dict, opts: dict) -> list:
    """Hessians (eV/Å²) of ``structures`` by a network or an ensemble (`Ensemble.combine`); each network's Hessian of
    each structure is computed once per ``memo`` (a cascade's primary and fallback share networks)."""
    nets = model.members if isinstance(model, Ensemble) else (model,)
    for m in nets:
        todo = [s for s in structures if (id(m), id(s)) not in memo]
        if todo:
            for s, h in zip(todo, predict_hessians(todo, m, check=False, **opts)):
                memo[(id(m), id(s))] = h
    if not isinstance(model, Ensemble):
        return [memo[(id(model), id(s))] for s in structures]
    return [model.combine(s, [memo[(id(m), id(s))] for m in nets]) for s in structures]


def predict_hessian(structure, model: Model | Ensemble | Cascade | str | Path | None = None) -> np.ndarray:
    """Hessian (3N, 3N) float64 in eV/Å² of one structure; ``model``: a loaded model, a shipped model's name
    (``"nequip_qm9"``) or a model folder; None = the shipped default weights."""
    return predict_hessians([structure], model)[0]
