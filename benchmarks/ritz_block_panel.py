"""Where the energy member's negative curvature lies on failing INS-panel molecules (issue 17).

    OMP_NUM_THREADS=2 python benchmarks/ritz_block_panel.py MODEL

X = Rᵀ H_pred R is the model's Hessian whitened by the panel's GFN2-xTB reference (floor 100 cm⁻¹, as the training
hinge). Prints X's lowest eigenvalue μ_min, the lowest Ritz value of the training hinge's space for block k = 6, 12,
24, 48 (k lowest reference modes plus one block-Krylov step; NumPy), and the weight of X's lowest eigenvector on the
6 and 24 lowest reference modes (docs/curvature_hinge.md). A diagnosis on held-out molecules, not a training input.
"""
import sys, warnings
import numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from out_of_domain import load_set
from hessfit.model import load_model, predict_hessians
from hessfit.structures import HessfitWarning
from hessfit.train._data import soft_mode_basis
warnings.simplefilter("ignore", HessfitWarning)
ds, _ = load_set("panel", None)
keys = list(ds.extra["key"])
names = ["sucrose", "trehalose", "lidocaine", "L-leucine", "n-tetracosane"]
idx = [i for i, k in enumerate(keys) if any(n.lower() in str(k).lower() for n in names)]
structures = [ds.structure(i) for i in idx]
hs = predict_hessians(structures, load_model(sys.argv[1]))
print("| molecule | 3N-6 | μ_min | Ritz θ_min, k=6 | k=12 | k=24 | k=48 | weight of the lowest eigvector on the 6 / 24 lowest modes |")
for i, s, h in zip(idx, structures, hs):
    r, mu_ref, nu = soft_mode_basis(s, ds.hessian(i), 100.0)
    x = r.T @ h @ r; x = 0.5 * (x + x.T)
    w, v = np.linalg.eigh(x)
    out = []
    for k in (6, 12, 24, 48):
        basis, _ = np.linalg.qr(np.hstack([np.eye(len(x))[:, :k], x[:, :k]]))
        out.append(np.linalg.eigvalsh(basis.T @ x @ basis).min())
    print(f"| {keys[i]} | {len(x)} | {w[0]:.2f} | " + " | ".join(f"{t:.2f}" for t in out)
          + f" | {np.sum(v[:6, 0]**2):.2f} / {np.sum(v[:24, 0]**2):.2f} |", flush=True)
