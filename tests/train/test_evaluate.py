"""Evaluation metrics: perfect predictions give perfect scores; a scaled Hessian gives the expected errors."""

import numpy as np
import pytest

from hessfit.train import evaluate, hessian_metrics, summarise


def test_metrics_of_perfect_and_scaled_hessian(qm9_molecule):
    s, h = qm9_molecule
    perfect = hessian_metrics(s, h, h, spectra=True)
    assert perfect["hessian_r2"] == pytest.approx(1.0)
    assert perfect["hessian_mae"] == 0.0 and perfect["frequency_mae_cm1"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["spearman_order1"] == pytest.approx(1.0) and perfect["spearman_order1_2"] == pytest.approx(1.0)
    scaled = hessian_metrics(s, 0.98 * h, h)
    # frequencies scale with √0.98: a 1 % shift of every mode
    freqs = scaled["frequency_mae_cm1"]
    assert 5.0 < freqs < 20.0
    assert scaled["hessian_mae"] == pytest.approx(0.02 * np.mean(np.abs(h)), rel=1e-6)


def test_evaluate_pools_and_skips(tiny_dataset):
    calls = []

    def predict(structures):
        calls.append(len(structures))
        return [tiny_dataset.hessian(0), None, tiny_dataset.hessian(2) * 1.01]

    res = evaluate(predict, tiny_dataset, [0, 1, 2], source="fake", spectra=False)
    assert calls == [3]
    assert res.summary["n_molecules"] == 2 and res.summary["skipped_molecules"] == 1
    assert 0.999 < res.summary["hessian_r2"] < 1.0
    assert summarise([])["n_molecules"] == 0
