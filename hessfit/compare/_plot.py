"""Overlay plot of a measured and a calculated INS spectrum with labelled, linked peaks."""

from __future__ import annotations

import numpy as np


def _draw(axis, result, *, emax=None, fs=6.5, labels=True, legend=False):
    """Measured (scaled to max 1, lifted by 1.15) over calculated (scaled to max 1); peaks marked and linked."""
    prep = result.prepared
    a = result.assignment
    e_m, y_m = prep.energy_cm1, prep.measured
    e_c, y_c = result.calculated_energy_cm1, result.calculated_intensity
    sel_m = np.ones_like(e_m, bool) if emax is None else e_m <= emax
    sel_c = np.ones_like(e_c, bool) if emax is None else e_c <= emax
    lo_m = float(np.min(y_m[sel_m]))
    k_m = 1.0 / max(float(np.max(y_m[sel_m])) - lo_m, 1e-300)
    k_c = 1.0 / max(float(np.max(y_c[sel_c])), 1e-300)
    lift = 1.15

    def meas(y):
        return (np.asarray(y) - lo_m) * k_m + lift

    def calc(y):
        return np.asarray(y) * k_c

    axis.plot(e_m[sel_m], meas(y_m[sel_m]), color="k", lw=1.0, label="measured")
    if prep.measured_error is not None:
        err = prep.measured_error * k_m
        axis.fill_between(e_m[sel_m], meas(y_m[sel_m]) - err[sel_m], meas(y_m[sel_m]) + err[sel_m], color="0.75", lw=0)
    axis.plot(e_c[sel_c], calc(y_c[sel_c]), color="tab:red", lw=1.0, label="calculated")
    mp, cp = a.measured, a.calculated
    ym_at = meas(np.interp(mp.energy_cm1, e_m, y_m))
    yc_at = calc(np.interp(cp.energy_cm1, e_c, y_c))
    inside_m = np.ones(len(mp), bool) if emax is None else mp.energy_cm1 <= emax
    inside_c = np.ones(len(cp), bool) if emax is None else cp.energy_cm1 <= emax
    for i, j in a.pairs:
        if inside_m[i] or inside_c[j]:
            axis.plot([mp.energy_cm1[i], cp.energy_cm1[j]], [ym_at[i] - 0.03, yc_at[j] + 0.03], color="tab:blue",
                      lw=0.6, alpha=0.8, ls="--")
    for i, lab in enumerate(mp.labels):
        if not inside_m[i]:
            continue
        colour = "k" if i not in a.unassigned_measured else "tab:orange"
        axis.plot(mp.energy_cm1[i], ym_at[i], "v", ms=3.5, color=colour)
        if labels:
            axis.annotate(lab, (mp.energy_cm1[i], ym_at[i] + 0.03), ha="center", va="bottom", fontsize=fs,
                          rotation=90, color=colour)
    for j, lab in enumerate(cp.labels):
        if not inside_c[j]:
            continue
        colour = "tab:red" if j not in a.unassigned_calculated else "tab:orange"
        axis.plot(cp.energy_cm1[j], yc_at[j], "^", ms=3.5, color=colour)
        if labels:
            axis.annotate(lab, (cp.energy_cm1[j], yc_at[j] + 0.03), ha="center", va="bottom", fontsize=fs,
                          rotation=90, color=colour)
    axis.set_ylim(-0.05, lift + 1.25)
    axis.set_yticks([])
    if legend:
        axis.plot([], [], color="tab:blue", ls="--", lw=0.6, label="assignment")
        axis.plot([], [], "v", color="tab:orange", ms=3.5, label="unassigned peak")
        _legend(axis, loc="upper right")


def _legend(axis, loc, ncols=4):
    axis.legend(loc=loc, frameon=False, fontsize=7, ncols=ncols)


def plot_comparison(result, *, ax=None, inset_max_cm1: float | None = 1000.0, zoom: str = "inset",
                    label_peaks: bool = True, title: str | None = None):
    """Measured (black, top) over calculated (red) spectrum, peaks P*/M* labelled, assigned pairs linked.

    Each trace is scaled to its own maximum inside the plotted range (the absolute scale is arbitrary; the
    scores use area normalisation). Orange markers are unassigned peaks.

    Args:
        result: ComparisonResult from `assign_spectrum`.
        ax: Axes to draw the full-range plot into (a new 11×7 in figure otherwise).
        inset_max_cm1: upper energy of the zoom (window start to this); None: no zoom.
        zoom: 'inset' (default: a zoomed inset in the empty upper part of the axes, above the high-energy
            region) or 'panel' (a second, full-size panel below; needs ``ax=None``).
        label_peaks: write the P/M labels.
        title: axes title (default: molecule, instrument, window, the four scores and the assignment count).

    Returns:
        The full-range Axes (the zoom is ``ax.child_axes[0]`` for an inset, ``ax.figure.axes[1]`` for a panel).
    """
    import matplotlib.pyplot as plt

    from hessfit.errors import ConfigError

    if zoom not in ("inset", "panel"):
        raise ConfigError(f"zoom must be 'inset' or 'panel', got {zoom!r}")
    lo, hi = result.scores["window_cm1"]
    want_zoom = inset_max_cm1 is not None and lo + 50 < inset_max_cm1 < hi
    zax = None
    if ax is None:
        if want_zoom and zoom == "panel":
            fig, (ax, zax) = plt.subplots(2, 1, figsize=(11, 8), layout="constrained")
        else:
            fig, ax = plt.subplots(figsize=(11, 7), layout="constrained")
    _draw(ax, result, labels=label_peaks, legend=True)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("energy transfer (cm$^{-1}$)")
    ax.set_ylabel("S (arb. units)")
    s = result.scores
    a = result.assignment
    meta = result.simulated.attrs
    ax.set_title(title if title is not None else
                 f"{meta.get('molecule', '')} — {meta.get('instrument', '')}, {s['window_cm1'][0]:.0f}–"
                 f"{s['window_cm1'][1]:.0f} cm$^{{-1}}$: Spearman {s['spearman']:.2f}, Pearson {s['pearson']:.2f}, "
                 f"cosine {s['cosine']:.2f}, W$_1$ {s['wasserstein_cm1']:.0f} cm$^{{-1}}$; "
                 f"{a.n_assigned}/{len(a.measured)} measured peaks assigned", fontsize=9)
    if not want_zoom:
        return ax
    if zax is None:  # inset: make head room above the traces and put the zoom there
        ax.set_ylim(-0.05, 4.3)
        ax.get_legend().remove()
        _legend(ax, loc="upper left", ncols=1)
        zax = ax.inset_axes([0.27, 0.585, 0.72, 0.36])
        fs = 5.5
    else:
        fs = 7
        zax.set_xlabel("energy transfer (cm$^{-1}$)")
        zax.set_ylabel("S (arb. units)")
    _draw(zax, result, emax=inset_max_cm1, fs=fs, labels=label_peaks)
    zax.set_xlim(lo, inset_max_cm1)
    zax.tick_params(labelsize=7)
    zax.set_title(f"zoom {lo:.0f}–{inset_max_cm1:.0f} cm$^{{-1}}$ (traces rescaled to their maxima here)",
                  fontsize=7, pad=2)
    ax.axvspan(lo, inset_max_cm1, ymax=0.56 if zoom == "inset" else 1.0, color="0.93", zorder=0)
    return ax
