"""Stick lists reproduce the simulator; per-peak mode shares."""

from __future__ import annotations

import numpy as np
import pytest

from hessfit.compare import peak_contributions, stick_spectrum
from hessfit.compare._contrib import q2_numpy
from hessfit.ins import load_instrument, q2_indirect


def test_q2_numpy_matches_ins():
    e = np.linspace(0, 4000, 7)
    np.testing.assert_allclose(q2_numpy(e, 32.0, 135.0), np.asarray(q2_indirect(e, 32.0, 135.0)), rtol=1e-12)


def test_order1_sticks_broadened_equal_simulated_order1(hexane, hexane_modes, tosca_order1):
    """Both TOSCA banks, exact per-stick Gaussians: the stick list *is* the simulator's order 1."""
    s, _ = hexane
    cfg, ds = tosca_order1
    st = stick_spectrum(s, hexane_modes, cfg)
    assert set(st.order.tolist()) == {1} and st.energy_cm1.size == 54
    e = ds["energy"].values
    sig = load_instrument("tosca").sigma_cm1(st.energy_cm1)
    g = np.exp(-0.5 * ((e[None, :] - st.energy_cm1[:, None]) / sig[:, None]) ** 2) / (np.sqrt(2 * np.pi) * sig[:, None])
    np.testing.assert_allclose(st.intensity @ g, ds["order_1"].values, rtol=1e-6, atol=1e-9 * ds["order_1"].values.max())


def test_order2_sticks_carry_the_simulated_order2_area(hexane, hexane_modes, hexane_result):
    s, _ = hexane
    ds = hexane_result.simulated
    st = hexane_result.sticks
    two = st.order == 2
    assert np.any(two) and np.all(st.mode_j[two] >= st.mode_i[two]) and np.all(st.mode_j[~two] == 0)
    inside = st.energy_cm1[two] < 3900
    area = np.trapezoid(ds["order_2"].values, ds["energy"].values)
    assert st.intensity[two][inside].sum() == pytest.approx(area, rel=0.01)
    assert {st.kind(k) for k in np.nonzero(two)[0]} == {"overtone", "combination"}


def test_peak_contributions_shares(hexane, hexane_modes, tosca_order1):
    s, _ = hexane
    cfg, ds = tosca_order1
    st = stick_spectrum(s, hexane_modes, cfg)
    sigma = load_instrument("tosca").sigma_cm1
    lone = float(hexane_modes.frequencies_cm1[0])        # the lowest mode is isolated
    (c,) = peak_contributions([lone], st, sigma, simulated_total=(ds["energy"].values, ds["total"].values))
    assert c["contributions"][0]["modes"] == (1,) and c["contributions"][0]["share"] > 0.95
    assert c["contributions"][0]["kind"] == "fundamental"
    assert c["higher_order_share"] == pytest.approx(0.0, abs=1e-3)      # order-1 only simulation
    many = peak_contributions(np.linspace(100, 3000, 12), st, sigma, min_share=0.0, max_terms=100)
    for m in many:
        assert sum(t["share"] for t in m["contributions"]) + m["other_share"] == pytest.approx(1.0)
