"""One set of options everywhere: --source/--model/--hessian/--deuterate/--isotope/--temperature/--instrument/
--normalize-h reach the computation the same way in modes, spectrum, compare, refine and predict."""

import dataclasses
import warnings

import numpy as np
import pytest
import typer

from hessfit.cli import app, main
from hessfit.model import load_model, predict_hessian, save_model
from hessfit.structures import read_structure

MOL = "qm9/qm9_100001.xyz"
HESS = "qm9/qm9_100001_hessian.npy"
HEX = "hexane/hexane_rdkit_mmff.xyz"
HEX_H = "hexane/hexane_rdkit_mmff_hessian_mmff94.npy"
HEX_SPEC = "hexane/hexane_tfxa.dat"
HEX_XRAY = "hexane/hexane.xyz"  # cut from the X-ray crystal structure: C–H 0.956–0.991 Å
C13 = 13.00335484


def _options(command: str) -> dict[str, str]:
    click_app = typer.main.get_command(app)
    cmd = click_app.commands[command]
    return {opt: (p.help or "") for p in cmd.params for opt in getattr(p, "opts", [])}


SHARED = {
    "--source": ["modes", "spectrum", "compare", "refine", "predict"],
    "--model": ["modes", "spectrum", "compare", "refine", "predict"],
    "--hessian": ["modes", "spectrum", "compare", "refine"],
    "--hessian-units": ["modes", "spectrum", "compare", "refine"],
    "--deuterate": ["modes", "spectrum", "compare", "refine"],
    "--isotope": ["modes", "spectrum", "compare", "refine"],
    "--optimize": ["modes", "spectrum", "compare", "refine"],
    "--normalize-h": ["modes", "spectrum", "compare", "refine", "predict"],
    "--temperature": ["modes", "spectrum", "compare", "refine"],
    "--instrument": ["spectrum", "compare", "refine"],
}
OWN_HELP = {"refine"}  # refine's module (another owner) keeps its own help texts except for --isotope


@pytest.mark.parametrize("option", sorted(SHARED))
def test_every_command_has_the_shared_option_with_one_meaning(option):
    helps = {cmd: _options(cmd).get(option) for cmd in SHARED[option]}
    assert all(h is not None for h in helps.values()), helps
    same = {h for cmd, h in helps.items() if cmd not in OWN_HELP or option == "--isotope"}
    assert len(same) == 1, helps


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    return save_model(tmp_path_factory.mktemp("m") / "tiny", tiny_model)


class Captured(Exception):
    pass


@pytest.fixture
def capture(monkeypatch):
    """Replace the computation each command ends in by a recorder of its (structure, Hessian) arguments."""
    seen = {}

    def recorder(*args, **kwargs):
        seen["structure"], seen["hessian"] = args[0], np.asarray(args[1])
        seen["args"], seen["kwargs"] = args, kwargs
        raise Captured

    import hessfit.compare
    import hessfit.ins
    import hessfit.modes
    import hessfit.refine

    monkeypatch.setattr(hessfit.modes, "normal_modes", recorder)
    monkeypatch.setattr(hessfit.ins, "simulate", recorder)
    monkeypatch.setattr(hessfit.compare, "assign_spectrum", recorder)
    monkeypatch.setattr(hessfit.refine, "refine", recorder)
    return seen


def _command_line(command, data_dir, tmp_path, extra):
    mol = str(data_dir / MOL)
    if command in ("compare", "refine"):
        return [command, mol, str(data_dir / HEX_SPEC), *extra, "-o", str(tmp_path / "out")]
    if command == "spectrum":
        return [command, mol, *extra, "-o", str(tmp_path / "s.nc")]
    return [command, mol, *extra]


@pytest.mark.parametrize("command", ["modes", "spectrum", "compare", "refine"])
def test_isotopes_reach_the_computation(command, capture, data_dir, tmp_path):
    main(_command_line(command, data_dir, tmp_path,
                       ["--hessian", str(data_dir / HESS), "--deuterate", "all", "--isotope", f"0={C13}"]))
    s = capture["structure"]
    ref = read_structure(data_dir / MOL)
    assert s.masses[0] == C13 and ref.masses[0] == pytest.approx(12.011, abs=1e-3)
    hydrogens = ref.numbers == 1
    np.testing.assert_allclose(s.masses[hydrogens], 2.01410178, atol=1e-6)
    np.testing.assert_array_equal(s.masses[1:][~hydrogens[1:]], ref.masses[1:][~hydrogens[1:]])
    np.testing.assert_array_equal(capture["hessian"], np.load(data_dir / HESS))


@pytest.mark.parametrize("command", ["modes", "spectrum", "compare", "refine"])
def test_model_option_reaches_the_network(command, capture, model_dir, data_dir, tmp_path):
    main(_command_line(command, data_dir, tmp_path, ["--model", str(model_dir)]))
    s = read_structure(data_dir / MOL)
    expected = predict_hessian(s, load_model(model_dir))
    np.testing.assert_allclose(capture["hessian"], expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_source_takes_any_registered_name(capture, data_dir, tmp_path, monkeypatch):
    """A source registered at run time (as the `auto` source is) is accepted by --source without a CLI change."""
    from hessfit.sources import _base
    from hessfit.sources._base import HessianSource

    h_file = np.load(data_dir / HESS)

    @dataclasses.dataclass(frozen=True)
    class Fixed(HessianSource):
        name = "unit_test_fixed"

        @property
        def level_of_theory(self):
            return "fixed"

        def hessian(self, structure):
            return self._result(h_file, structure)

    monkeypatch.setitem(_base._REGISTRY, "unit_test_fixed", Fixed)
    main(["modes", str(data_dir / MOL), "--source", "unit_test_fixed"])
    np.testing.assert_array_equal(capture["hessian"], h_file)


@pytest.mark.parametrize("args, message", [
    (["--source", "nosuch"], "unknown Hessian source 'nosuch'; use one of"),
    (["--source", "mmff", "--model", "blocks_qm9"], "--source mmff has none"),
    (["--hessian", HESS, "--model", "blocks_qm9"], "either --hessian FILE or --model"),
    (["--model", "no_such_model"], "not a hessfit model folder"),
])
def test_option_conflicts_are_one_line(args, message, data_dir, capsys):
    args = [str(data_dir / a) if a == HESS else a for a in args]
    assert main(["modes", str(data_dir / MOL), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_predict_any_source(data_dir, tmp_path, capsys):
    pytest.importorskip("rdkit")
    from hessfit.structures import load_dataset

    out = tmp_path / "h.npy"
    assert main(["predict", str(data_dir / HEX), "--source", "mmff", "-o", str(out)]) == 0
    assert "MMFF94" in capsys.readouterr().out
    # the bundled MMFF94 Hessian of the same geometry (0.001 Å steps; the source uses its own default step)
    np.testing.assert_allclose(np.load(out), np.load(data_dir / HEX_H), atol=0.02)
    two = tmp_path / "two.npz"
    assert main(["predict", str(data_dir / HEX), str(data_dir / HEX), "--source", "mmff", "-o", str(two)]) == 0
    ds = load_dataset(two)
    assert len(ds) == 2
    np.testing.assert_allclose(ds.hessian(1), np.load(out), atol=1e-4 * np.abs(np.load(out)).max())  # float32


def test_shipped_model_names_in_the_api_and_the_cli(data_dir, tmp_path):
    from hessfit.model import BLOCKS_WEIGHTS

    s = read_structure(data_dir / MOL)
    by_name = predict_hessian(s, model="blocks_qm9")  # raised AttributeError before
    np.testing.assert_array_equal(by_name, predict_hessian(s, load_model(BLOCKS_WEIGHTS)))
    assert by_name.shape == (75, 75) and np.allclose(by_name, by_name.T)
    out = tmp_path / "b.npy"
    assert main(["predict", str(data_dir / MOL), "--model", "blocks_qm9", "-o", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), by_name, rtol=1e-12, atol=1e-12)


def test_modes_thermo_table_matches_ase(data_dir, capsys):
    thermochemistry = pytest.importorskip("ase.thermochemistry")
    from ase import units

    assert main(["modes", str(data_dir / MOL), "--hessian", str(data_dir / HESS), "--thermo",
                 "--temperature", "77"]) == 0
    lines = capsys.readouterr().out.splitlines()
    freqs = np.array([float(x.split()[1]) for x in lines if x.split() and x.split()[0].isdigit()
                      and len(x.split()) == 3])
    assert len(freqs) == 69
    rows = {float(x.split()[0]): [float(v) for v in x.split()[1:]] for x in lines
            if len(x.split()) == 5 and x.split()[0].replace(".", "").isdigit()}
    assert {77.0, 298.15, 1000.0} <= set(rows)
    ase = thermochemistry.HarmonicThermo(vib_energies=freqs * units.invcm, potentialenergy=0.0)
    to_kj = units.mol / units.kJ
    for t in (77.0, 298.15):
        u, s, cv, f = rows[t]
        assert u == pytest.approx(ase.get_internal_energy(t, verbose=False) * to_kj, abs=2e-3)
        assert s == pytest.approx(ase.get_entropy(t, verbose=False) * to_kj * 1000, abs=2e-3)
        assert f == pytest.approx(ase.get_helmholtz_energy(t, verbose=False) * to_kj, abs=2e-3)
    assert rows[1000.0][2] < 69 * 8.314462618  # below the classical (3N−6)R


@pytest.mark.parametrize("command, extra, instrument, temperature", [
    ("compare", [], "tfxa", 10.0),                       # the measured file's header names TFXA
    ("compare", ["--instrument", "vision", "--temperature", "20"], "vision", 20.0),
    ("spectrum", [], "tosca", 10.0),                     # no measured spectrum: tosca
    ("spectrum", ["--instrument", "vision", "--temperature", "20"], "vision", 20.0),
])
def test_instrument_and_temperature_defaults(command, extra, instrument, temperature, capture, data_dir, tmp_path):
    args = [command, str(data_dir / HEX)] + ([str(data_dir / HEX_SPEC)] if command == "compare" else [])
    out = ["-o", str(tmp_path / ("out" if command == "compare" else "s.nc"))]
    main([*args, "--hessian", str(data_dir / HEX_H), *extra, *out])
    cfg = capture["kwargs"]["ins_config"] if command == "compare" else capture["args"][2]
    assert (cfg.instrument, cfg.temperature_k) == (instrument, temperature)


@pytest.mark.parametrize("header, expected", [
    ("# measured on TFXA (ISIS)\n# instrument : tfxa (predecessor of TOSCA)", "tfxa"),
    (["VISION, 5 K"], "vision"),
    ("TOSCA and VISION compared", None),
    ("", None),
])
def test_instrument_from_header(header, expected):
    from hessfit.cli._common import instrument_from_header

    class Spec:
        metadata = {"header": header}

    assert instrument_from_header(Spec) == expected


@pytest.mark.parametrize("command", ["modes", "spectrum", "compare", "refine"])
def test_normalize_h_reaches_the_computation(command, capture, model_dir, data_dir, tmp_path, capsys):
    """With --normalize-h the Hessian is the network's at the normalised geometry (C–H 1.089 Å, carbons unmoved);
    without it the X-ray hydrogens are named in one warning line."""
    from hessfit.structures import hydrogen_bonds, normalize_hydrogens

    xray = read_structure(data_dir / HEX_XRAY)

    def run(*extra):
        spectrum = [str(data_dir / HEX_SPEC)] if command in ("compare", "refine") else []
        out = {"modes": [], "spectrum": ["-o", str(tmp_path / "s.nc")]}.get(command, ["-o", str(tmp_path / "out")])
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # shown again, though an earlier test showed it from the same line
            main([command, str(data_dir / HEX_XRAY), *spectrum, "--model", str(model_dir), *extra, *out])
        return capsys.readouterr().err

    assert "hydrogen positions look X-ray determined" in run()
    assert "X-ray" not in run("--normalize-h")
    s = capture["structure"]
    carbons = s.numbers == 6
    np.testing.assert_array_equal(s.positions[carbons], xray.positions[carbons])
    np.testing.assert_allclose([b.length for b in hydrogen_bonds(s)], 1.089, atol=1e-12)
    expected = predict_hessian(normalize_hydrogens(xray), load_model(model_dir))
    np.testing.assert_allclose(capture["hessian"], expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_predict_normalize_h_writes_the_geometry_it_used(model_dir, data_dir, tmp_path, capsys):
    from hessfit.structures import hydrogen_bonds

    out = tmp_path / "h.npy"
    assert main(["predict", str(data_dir / HEX_XRAY), "--model", str(model_dir), "--normalize-h", "-o",
                 str(out)]) == 0
    used = read_structure(tmp_path / "h_geometry.xyz")
    np.testing.assert_allclose([b.length for b in hydrogen_bonds(used)], 1.089, atol=1e-5)
    np.testing.assert_allclose(np.load(out), predict_hessian(used, load_model(model_dir)), rtol=1e-4,
                               atol=1e-6 * np.abs(np.load(out)).max())
    assert main(["predict", str(data_dir / HEX_XRAY), "--model", str(model_dir), "--normalize-h", "-o",
                 str(out)]) == 1  # the .npy exists: nothing is overwritten without --overwrite
    assert main(["modes", str(data_dir / HEX_XRAY), "--hessian", str(out), "--normalize-h"]) == 1
    assert "--normalize-h needs --source" in capsys.readouterr().err
    mine = tmp_path / "mol.xyz"  # the geometry goes to mol_geometry.xyz: the input is never replaced
    mine.write_text((data_dir / HEX_XRAY).read_text())
    assert main(["predict", str(mine), "--model", str(model_dir), "--normalize-h", "--overwrite", "-o",
                 str(tmp_path / "mol.npy")]) == 0
    assert mine.read_text() == (data_dir / HEX_XRAY).read_text() and (tmp_path / "mol_geometry.xyz").exists()
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "mol_geometry.xyz"), "--model", str(model_dir), "--normalize-h",
                 "--overwrite", "-o", str(tmp_path / "mol.npy")]) == 1  # even with --overwrite
    assert "is one of the input structures" in capsys.readouterr().err


def test_predict_names_the_structures_with_xray_hydrogens_in_one_line(model_dir, data_dir, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["predict", str(data_dir / HEX_XRAY), str(data_dir / HEX), "--model", str(model_dir), "-o",
                     str(tmp_path / "two.npz")]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if "hydrogens" in x]
    assert lines == [lines[0]] and "1 of 2 structures have X-ray-like or missing hydrogens (hexane)" in lines[0]


def test_predict_treats_a_crystal_as_modes_and_compare_do(model_dir, data_dir, tmp_path):
    """A crystal goes through the nequip source (each molecule alone, rigid-body motion projected out), not the
    periodic graph, so `predict` and `modes`/`compare` give the same Hessian."""
    from hessfit.sources import get_source

    cif = data_dir / "hexane" / "hexane_crystal.cif"
    out = tmp_path / "c.npy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["predict", str(cif), "--model", str(model_dir), "-o", str(out)]) == 0
        expected = get_source("nequip", model=str(model_dir)).hessian(read_structure(cif)).hessian
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_refine_seeds_refuse_normalize_h_for_a_phonopy_file(data_dir, tmp_path, capsys):
    phonopy_file = data_dir / "hexane" / "hexane_crystal_gfn2_phonopy_params.yaml"
    assert main(["refine", str(phonopy_file), str(data_dir / HEX_SPEC), "--seeds", "nequip", "--normalize-h",
                 "-o", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "--normalize-h applies to a structure file" in err and err.count("\n") == 1
