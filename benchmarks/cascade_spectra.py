"""Spectra where the cascade `cascade_mf` (the default until `cascade_pooled`) uses its fallback
(docs/model_card_cascade.md).

    python benchmarks/cascade_spectra.py

Every molecule of data/ood/panel_xtb.npz and panel2_xtb.npz where `cascade_mf` differs from `ensemble_mf`:
Spearman of the TOSCA spectrum (orders 1-2, 10 K, 20-3500 cm-1) against the spectrum of the xTB reference
Hessian, for both. Prints one row per molecule and the median.
"""
import warnings
import numpy as np
from scipy.stats import spearmanr
from hessfit.ins import InsConfig, simulate
from hessfit.model import load_model, predict_hessian
from hessfit.structures import load_dataset
warnings.simplefilter("ignore")
cfg = InsConfig(instrument="tosca", temperature_k=10.0, max_order=2)
ens, casc = load_model("ensemble_mf"), load_model("cascade_mf")
rows = []
for path in ("data/ood/panel_xtb.npz", "data/ood/panel2_xtb.npz"):
    ds = load_dataset(path)
    for i in range(len(ds)):
        s = ds.structure(i)
        he, hc = predict_hessian(s, ens), predict_hessian(s, casc)
        if np.allclose(he, hc):
            continue
        sp = [simulate(s, h, cfg) for h in (ds.hessian(i), he, hc)]
        e = sp[0]["energy"].values
        w = (e >= 20) & (e <= 3500)
        r = [spearmanr(x["total"].values[w], sp[0]["total"].values[w]).statistic for x in sp[1:]]
        rows.append(r)
        print(f"{str(ds.extra['key'][i]):26s} ensemble_mf {r[0]:.3f}  cascade_mf {r[1]:.3f}", flush=True)
r = np.array(rows)
print(f"{len(r)} molecules: median {np.median(r[:, 0]):.3f} -> {np.median(r[:, 1]):.3f}; "
      f"cascade higher for {int((r[:, 1] > r[:, 0]).sum())}")
