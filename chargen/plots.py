"""PNG line charts for reports (matplotlib, an optional dependency: imported inside the function,
Agg backend, nothing opens a window). One function draws one or several panels side by side.

    save_lines("influence.png", [{"title": "influence", "series": {"lstm": (xs, ys)}, "log_y": True}])
"""
from __future__ import annotations

COLOURS = {"rnn": "#dc2626", "gru": "#2563eb", "lstm": "#16a34a"}


def save_lines(path, panels: list[dict], width: float = 5.2, height: float = 3.6) -> None:
    """Each panel: {"title", "series": {name: (xs, ys) or (xs, ys, style dict)}, "xlabel", "ylabel",
    "log_x", "log_y", "hline": (y, label)}; series named after a cell ("gru", "gru-noclip") take its colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for name, data in panel["series"].items():
            xs, ys, style = (*data, {}) if len(data) == 2 else data
            colour = COLOURS.get(name.split("-")[0])
            ax.plot(xs, ys, label=name, **{"linewidth": 1.4, **({"color": colour} if colour else {}), **style})
        if panel.get("hline"):
            y, label = panel["hline"]
            ax.axhline(y, color="#555", linestyle=":", linewidth=1, label=label)
        ax.set_yscale("log" if panel.get("log_y") else "linear")
        ax.set_xscale("log" if panel.get("log_x") else "linear")
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
