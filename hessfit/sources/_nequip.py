"""Hessians from the network (``--source nequip``), checked by a guard.

The ``nequip`` source runs a guard on every network Hessian (`network_guard`): it counts internal modes
below ``GUARD_IMAGINARY_CM1`` (−50 cm⁻¹; a sound model has none at a minimum of a nearby surface) and, for
an ensemble, the members' disagreement (RMS difference of their sorted frequencies, cm⁻¹). Both go into the
result's metadata; when the guard fails a `NetworkGuardWarning` says so in one line, naming the lowest
modes and suggesting ``--source xtb``. ``--source auto`` (`hessfit.sources._auto`) acts on it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import warnings
from pathlib import Path

import numpy as np

from hessfit.errors import ConfigError
from hessfit.sources._base import HessianResult, HessianSource, register_source
from hessfit.structures import HessfitWarning, Structure


@functools.lru_cache(maxsize=4)
def _load_model(path: str | None):
    from hessfit.model import load_model

    return load_model(path)


# ----------------------------------------------------------------------------- the network guard

#: the guard fails when an internal mode lies below this, cm⁻¹ (imaginary modes are negative)
GUARD_IMAGINARY_CM1 = -50.0
#: the guard fails when ensemble members' sorted frequencies differ by more than this RMS, cm⁻¹, unless the
#: ensemble's model.json gives its own calibrated ``guard_disagreement_cm1`` (`disagreement_limit`): the 99th
#: percentile (53 cm⁻¹; median 29, max 66) of ensemble_mf's members nequip_mf vs blocks_mf on the 412 QM9
#: validation molecules (benchmarks/out_of_domain.py; docs/out_of_domain.md; 65 for ensemble_qm9's members)
GUARD_DISAGREEMENT_CM1 = 53.0


def disagreement_limit(model) -> float:
    """The guard's member-disagreement limit (cm⁻¹) for a loaded ``model``: its ensemble's calibrated
    ``guard_disagreement_cm1`` (model.json metadata; for a cascade, its primary's), else `GUARD_DISAGREEMENT_CM1`."""
    ensemble = getattr(model, "primary", model)
    return float((getattr(ensemble, "metadata", None) or {}).get("guard_disagreement_cm1", GUARD_DISAGREEMENT_CM1))


class NetworkGuardWarning(HessfitWarning):
    """A network Hessian failed the guard (modes below −50 cm⁻¹ or ensemble members disagreeing)."""


@dataclasses.dataclass(frozen=True)
class GuardReport:
    """Outcome of `network_guard`.

    Attributes:
        passed: no internal mode below ``threshold_cm1`` and member disagreement at most ``max_disagreement_cm1``.
        modes_below: ((1-based mode number in ascending order, frequency cm⁻¹), ...) of the modes below threshold.
        lowest_cm1: lowest internal-mode frequency, cm⁻¹ (negative = imaginary).
        disagreement_cm1: RMS difference of the members' sorted internal frequencies, cm⁻¹, averaged over member
            pairs; ``None`` for a single network.
        threshold_cm1, max_disagreement_cm1: the limits used, cm⁻¹.
    """

    passed: bool
    modes_below: tuple
    lowest_cm1: float
    disagreement_cm1: float | None
    threshold_cm1: float
    max_disagreement_cm1: float

    def metadata(self) -> dict:
        """The entries the nequip source adds to ``HessianResult.metadata``."""
        return {"guard_passed": self.passed, "n_modes_below_guard": len(self.modes_below),
                "guard_modes_below_cm1": [f for _, f in self.modes_below], "lowest_frequency_cm1": self.lowest_cm1,
                "member_disagreement_cm1": self.disagreement_cm1, "guard_threshold_cm1": self.threshold_cm1}

    def message(self, name: str) -> str:
        """One line saying why the guard failed (empty when it passed)."""
        if self.passed:
            return ""
        why = []
        if self.modes_below:
            shown = ", ".join(f"mode {k} at {f:.0f}" for k, f in self.modes_below[:3])
            more = f" and {len(self.modes_below) - 3} more" if len(self.modes_below) > 3 else ""
            why.append(f"{len(self.modes_below)} mode(s) below {self.threshold_cm1:.0f} cm⁻¹ ({shown}{more} cm⁻¹)")
        if self.disagreement_cm1 is not None and self.disagreement_cm1 > self.max_disagreement_cm1:
            why.append(f"ensemble members disagree by {self.disagreement_cm1:.0f} cm⁻¹ RMS "
                       f"(limit {self.max_disagreement_cm1:.0f})")
        return (f"{name}: the network Hessian fails the guard: {' and '.join(why)}; its low modes are not to be "
                "trusted (the molecule may lie outside what the network learned); use --source xtb (or --source auto)")


def _internal_frequencies(structure: Structure, hessian: np.ndarray) -> np.ndarray:
    from hessfit.modes import normal_modes

    return np.sort(np.asarray(normal_modes(structure, hessian).frequencies_cm1, float))


def network_guard(structure: Structure, hessian: np.ndarray, members: list | None = None, *,
                  threshold_cm1: float = GUARD_IMAGINARY_CM1,
                  max_disagreement_cm1: float = GUARD_DISAGREEMENT_CM1) -> GuardReport:
    """Check a network Hessian (eV/Å²) of ``structure``: modes below ``threshold_cm1`` and member disagreement.

    Args:
        structure: the geometry (Å) and masses (amu).
        hessian: the (ensemble) Hessian, (3N, 3N) eV/Å².
        members: the ensemble members' Hessians (eV/Å²), or None for a single network.
        threshold_cm1: internal modes below this frequency (cm⁻¹, imaginary = negative) fail the guard.
        max_disagreement_cm1: member disagreement (RMS cm⁻¹) above this fails the guard.
    """
    freqs = _internal_frequencies(structure, hessian)
    below = tuple((int(k) + 1, float(freqs[k])) for k in np.flatnonzero(freqs < threshold_cm1))
    spread = None
    if members is not None and len(members) > 1:
        fm = [_internal_frequencies(structure, h) for h in members]
        pairs = [(a, b) for a in range(len(fm)) for b in range(a + 1, len(fm))]
        spread = float(np.mean([np.sqrt(np.mean((fm[a] - fm[b]) ** 2)) for a, b in pairs]))
    passed = not below and (spread is None or spread <= max_disagreement_cm1)
    return GuardReport(passed=passed, modes_below=below, lowest_cm1=float(freqs[0]) if freqs.size else float("nan"),
                       disagreement_cm1=spread, threshold_cm1=float(threshold_cm1),
                       max_disagreement_cm1=float(max_disagreement_cm1))


def crystal_molecules(crystal: Structure) -> tuple[list[Structure], list[np.ndarray]]:
    """The molecules of a crystal, each made whole, as isolated `Structure`s (Å, amu), with their atom indices.
    A cluster bonded to its own periodic image (polymer, framework) raises: it has no isolated form."""
    from hessfit.errors import InputFormatError
    from hessfit.structures import find_molecules, make_whole

    assignment = find_molecules(crystal)
    if assignment.extended.any():
        raise InputFormatError(f"{crystal.name}: {int(assignment.extended.sum())} bonded cluster(s) extend through "
                               "the periodic boundaries (a polymer or framework); the network predicts molecules "
                               "only; use --source xtb or a phonopy file")
    whole = make_whole(crystal, assignment=assignment)
    out, index = [], []
    for k in range(assignment.n_molecules):
        idx = assignment.members(k)
        out.append(Structure(whole.numbers[idx], whole.positions[idx], whole.masses[idx],
                             name=f"{crystal.name} molecule {k + 1}"))
        index.append(idx)
    return out, index


@register_source("nequip")
@dataclasses.dataclass(frozen=True)
class NequipSource(HessianSource):
    """The hessfit network (``hessfit.model.predict_hessian``), imported when first used, with the guard.

    Attributes:
        model: path to trained weights (loaded with ``hessfit.model.load_model``), a loaded model, or
            ``None`` for the shipped default (the cascade ``cascade_pairclass``: ``ensemble_pairclass``, an
            energy and a block network combined per atom-pair class, blended with a hinge-trained ensemble only where it has a mode below
            −20 cm⁻¹).
        guard: run `network_guard` on the Hessian, record it in the metadata and warn when it fails.
        crystal: how a crystal is treated: 'molecules' (default: every molecule predicted alone, intramolecular
            blocks only; `_predict_crystal`) or 'periodic' (one graph with edges to periodic images: the network's
            own intermolecular blocks, from contacts it never saw in training; docs/crystal.md measures both).
        intermolecular: with crystal='molecules', a Hessian (3N, 3N) eV/Å² of the same crystal (periodic xTB,
            phonopy force constants) whose intermolecular part (`hessfit.structures.split_intermolecular`) is
            added to the network's intramolecular blocks; None: intramolecular blocks only, with a warning.
    """

    model: object = None
    guard: bool = True
    crystal: str = "molecules"
    intermolecular: object = None

    @property
    def level_of_theory(self) -> str:
        return "NequIP network (trained on B3LYP/6-311++G(d,p))"

    def _predict(self, structure: Structure, memo: dict | None = None,
                 check: bool = True) -> tuple[object, list | None]:
        """(prediction, member Hessians or None): an ensemble is predicted member by member, so the guard sees them.
        A crystal: `_predict_crystal`. ``memo`` ({id(network): Hessian}) shares networks' Hessians of this
        structure between a cascade's primary and fallback; ``check``: the domain check (once per structure)."""
        if getattr(structure, "is_crystal", False) and self.crystal != "periodic":
            if self.crystal != "molecules":
                raise ConfigError(f"nequip source: crystal must be 'molecules' or 'periodic', got {self.crystal!r}")
            return self._predict_crystal(structure)
        try:
            hm = importlib.import_module("hessfit.model")
            predict_hessian = hm.predict_hessian
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"the nequip source needs hessfit.model.predict_hessian, which this installation "
                              f"does not provide ({exc}); use --source xtb|mmff|dft|file") from None
        model = self._model(hm)
        ensemble_cls = getattr(hm, "Ensemble", None)
        if isinstance(model, getattr(hm, "Cascade", ())):
            return self._predict_cascade(structure, model, hm)

        def network(m, check_domain: bool) -> np.ndarray:  # each network's Hessian once per memo
            if id(m) not in memo:
                memo[id(m)] = np.asarray(hm.predict_hessians([structure], m, check=check_domain)[0], float)
            return memo[id(m)]

        if ensemble_cls is not None and isinstance(model, ensemble_cls):
            widest = hm.domain_network(model)  # as predict_hessians checks
            memo = {} if memo is None else memo
            members = [network(m, check and m is widest) for m in model.members]
            return model.combine(structure, members), members
        if memo is not None:
            return network(model, check), None
        return predict_hessian(structure, model=model), None

    def _model(self, hm):
        """The loaded model: ``self.model`` read from its folder, or the shipped default (loaded here, with the guard
        on, so that an ensemble's members are seen); None leaves the default to ``predict_hessian``."""
        if isinstance(self.model, (str, Path)):
            return _load_model(str(self.model))
        if self.model is None and getattr(hm, "Ensemble", None) is not None and self.guard:
            return _load_model(None)
        return self.model

    def _predict_cascade(self, structure: Structure, cascade, hm) -> tuple[object, list | None]:
        """A cascade (`hessfit.model.Cascade`, `hessfit.model.choose_sounder`): the primary's prediction, or where
        it has a mode below the cascade's threshold the fallback's (or the least blend of the two that passes).
        The guard's member disagreement is the primary's (the limit is calibrated on it; a crystal's molecules
        then share one set of members); the metadata gives the fallback's weight (``cascade_fallback_weight``,
        0 = the primary alone)."""
        from types import SimpleNamespace

        memo: dict = {}
        out, members = dataclasses.replace(self, model=cascade.primary)._predict(structure, memo)

        def fallback(structures):
            out_f, _ = dataclasses.replace(self, model=cascade.fallback)._predict(structure, memo, False)
            return [np.asarray(out_f, float)]

        (h,), (w,) = hm.choose_sounder([structure], [np.asarray(out, float)], fallback, cascade.threshold_cm1,
                                       cascade.blend_steps)
        return SimpleNamespace(hessian=h, metadata={"cascade_fallback_weight": float(w)}), members

    def _predict_crystal(self, crystal: Structure) -> tuple[np.ndarray, list | None]:
        """A crystal's Hessian (3N, 3N) eV/Å² from its molecules: every molecule made whole and predicted alone (the
        network was trained on isolated molecules: it is not asked for intermolecular force constants), assembled
        block-diagonally (see `crystal_molecules`), plus the intermolecular part of ``self.intermolecular`` when
        given (else the blocks between molecules are zero). Each molecule's block has its rigid-body motion
        projected out (`hessfit.modes.without_rigid_body_motion`): the network's curvature along a molecule's
        rotations (64–190 cm⁻¹ for hexane cut from its crystal) is not a force between molecules, and it would
        otherwise pose as librational lattice modes. The projection is mass-weighted (the Eckart frame of the
        molecule's own normal-mode analysis), so this Hessian belongs to the crystal's masses: isotopes are set
        before it is computed, not after."""
        from hessfit.modes import without_rigid_body_motion
        from hessfit.structures import split_intermolecular

        inter = 0.0
        if self.intermolecular is not None:
            h_other = np.asarray(self.intermolecular, float)
            if h_other.shape != (3 * crystal.n_atoms,) * 2:
                raise ConfigError(f"{crystal.name}: the intermolecular Hessian has shape {h_other.shape}, expected "
                                  f"{(3 * crystal.n_atoms,) * 2}")
            inter = split_intermolecular(crystal, h_other)[1]
        molecules, members_idx = crystal_molecules(crystal)
        parts, member_parts = [], None
        for mol in molecules:
            h, members = self._predict(mol)
            parts.append(without_rigid_body_motion(mol.positions, mol.masses, getattr(h, "hessian", h)))
            if members is not None:
                member_parts = (member_parts or [[] for _ in members])
                for k, hm in enumerate(members):
                    member_parts[k].append(without_rigid_body_motion(mol.positions, mol.masses, hm))

        def assemble(blocks):
            out = np.zeros((3 * crystal.n_atoms,) * 2)
            for idx, hb in zip(members_idx, blocks):
                cols = (3 * idx[:, None] + np.arange(3)).ravel()
                out[np.ix_(cols, cols)] = hb
            return out + inter

        if self.intermolecular is None:
            warnings.warn(f"{crystal.name}: network Hessian of a crystal: intramolecular force constants only (each "
                          f"of its {len(molecules)} molecules predicted alone), so its lattice modes are zero and "
                          "left out of the spectrum; for them give a phonopy file (its intermolecular blocks are "
                          "added) or use --source xtb",
                          HessfitWarning, stacklevel=4)
        return assemble(parts), ([assemble(m) for m in member_parts] if member_parts else None)

    def hessian_and_guard(self, structure: Structure, *, warn: bool = True) -> tuple[HessianResult, GuardReport | None]:
        """The network Hessian (eV/Å²) and its `GuardReport` (None when ``guard`` is off); ``warn``: warn on failure."""
        out, members = self._predict(structure)
        h = getattr(out, "hessian", out)
        extra = dict(getattr(out, "metadata", {}) or {})
        extra.pop("source", None)
        level = extra.pop("level_of_theory", None)
        name = str(self.model) if self.model is not None else "shipped default"
        result = self._result(np.asarray(h, float), structure, method="network", model=name, **extra)
        meta = dict(result.metadata)
        if level:
            meta["level_of_theory"] = level
        report = None
        if self.guard:
            limit = disagreement_limit(self._model(importlib.import_module("hessfit.model")))
            report = network_guard(structure, result.hessian, members, max_disagreement_cm1=limit)
            meta.update(report.metadata())
            if warn and not report.passed:
                warnings.warn(report.message(structure.name), NetworkGuardWarning, stacklevel=3)
        return dataclasses.replace(result, metadata=meta), report

    def hessian(self, structure: Structure) -> HessianResult:
        return self.hessian_and_guard(structure)[0]
