"""`make bench-report`: one self-contained HTML page (and its PNGs) from the run history and the growth curves.

    python -m bench.bench_report [--history bench/history.jsonl] [--growth bench/growth.json] [--out bench/report]

The page holds the history of every ratio (reference seconds / fastdos seconds, measured side by side in one
run) over the runs of ``bench/history.jsonl``, one chart per bench module, and the growth curves of
``bench/growth.json``: time and peak memory against size on log-log axes, each method with its fitted exponent
(least-squares slope in log-log) in the legend, plus tables of every figure. Images are embedded as base64
data URIs: the page opens offline and links nothing. Bad input ends in one line on stderr and exit status 2.
Inputs are described in bench/report_data.py.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.report_data import Curve, ReportError, Run, exponent, read_growth, read_history

ROOT = Path(__file__).resolve().parent.parent
# A fastdos time exponent above this is flagged: in one loaded run the linear in-run references landed at
# 0.95-1.11 (bench/notes/growth.md), so noise moves a slope by about 0.1.
SUPERLINEAR = 1.1
MAX_RUN_LABELS = 10  # x labels (commit + date, slanted) of the ratio charts stay readable up to this many
COLOURS = {"fastdos": "#1f77b4", "aiida": "#d62728", "raw_copy": "#2ca02c", "executemany": "#9467bd",
           "hop_by_hop": "#ff7f0e", "python_set": "#8c564b"}  # fmt: skip
STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 72em; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th, td:first-child, td.t { text-align: left; }
img { max-width: 100%; height: auto; display: block; }
.flag { color: #b00; font-weight: bold; } .note { color: #555; font-size: 0.9em; }
"""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError("matplotlib is missing: pip install -e '.[bench]' (make bench-report does)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(figure)
    return buffer.getvalue()


def fmt(value: float) -> str:
    """Four significant digits: how every figure appears in the tables."""
    return f"{value:.4g}"


def _short(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _slope_label(method: str, slope: float | None) -> str:
    return f"{method} (one size)" if slope is None else f"{method} (exponent {slope:.2f})"


def _plain_ticks(axes: Any) -> None:
    """Five labelled ticks spread evenly (in log) over the data of a log y axis, as plain numbers: memory and
    ratios span narrow ranges, where matplotlib's 10^x labels leave most points without a readable tick."""
    from matplotlib.ticker import NullFormatter

    values = [float(y) for line in axes.get_lines() for y in line.get_ydata() if float(y) > 0]
    if not values:
        return
    low, high = min(values), max(values)
    if high / low < 1.1:
        low, high = low / 1.05, high * 1.05
    ticks = sorted({float(f"{low * (high / low) ** (i / 4):.2g}") for i in range(5)})
    axes.set_yticks(ticks, [f"{t:g}" for t in ticks])
    axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_ylim(low / 1.08, high * 1.08)


def growth_png(curve: Curve) -> bytes:
    """Time and peak memory against n, log-log, one line per method with its fitted exponent."""
    plt = _pyplot()
    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4))
    for method, series in curve.methods.items():
        if not series.n:
            continue
        style = {"color": COLOURS.get(method), "marker": "o", "linestyle": "-" if method == "fastdos" else "--"}
        times.plot(series.n, series.seconds, label=_slope_label(method, exponent(series.n, series.seconds)), **style)
        peaks = [(n, p) for n, p in zip(series.n, series.peak_mb, strict=True) if p is not None]
        if peaks:
            xs, ys = zip(*peaks, strict=True)
            memory.plot(xs, ys, label=_slope_label(method, exponent(list(xs), list(ys))), **style)
    for axes, label in ((times, "seconds"), (memory, "peak RSS of the client, MiB")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("n (nodes)")
        axes.set_ylabel(label)
        axes.grid(True, which="both", alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    _plain_ticks(memory)
    times.set_title(f"time — {curve.name}", fontsize=10)
    memory.set_title(f"peak memory — {curve.name}", fontsize=10)
    return _png(figure)


def history_pngs(runs: list[Run]) -> dict[str, bytes]:
    """``{bench module: chart}``: each benchmark's ratio over the runs (runs in file order)."""
    plt = _pyplot()
    modules: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for name in run.ratios:
            modules[name.split("::")[0]].add(name)
    charts = {}
    for module, names in sorted(modules.items()):
        figure, axes = plt.subplots(figsize=(11, 4.5))
        for name in sorted(names):
            xs = [i for i, run in enumerate(runs) if name in run.ratios]
            axes.plot(xs, [runs[i].ratios[name] for i in xs], marker="o", label=name.split("::", 1)[-1])
        axes.set_yscale("log")
        _plain_ticks(axes)
        step = max(1, len(runs) // MAX_RUN_LABELS)  # every step-th run labelled, the latest always
        shown = sorted({*range(len(runs) - 1, -1, -step)})
        axes.set_xticks(shown, [runs[i].label for i in shown], fontsize=7, rotation=30, ha="right")
        axes.set_xlim(-0.5, len(runs) - 0.5)
        axes.set_ylabel("reference s / fastdos s")
        axes.set_title(module, fontsize=11)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        charts[module] = _png(figure)
    return charts


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _history_html(runs: list[Run], charts: dict[str, bytes]) -> list[str]:
    parts = ["<h2>Ratios over the runs</h2>"]
    if not runs:
        return [*parts, "<p>No runs in the history yet: `make bench` appends one per run.</p>"]
    parts.append(f"<p>{len(runs)} run(s) in the history. A ratio is the reference's seconds over the benchmark's "
                 "seconds in the same run (&gt; 1: fastdos faster); machine speed cancels out.</p>")  # fmt: skip
    if not charts:
        parts.append("<p>No benchmark in the history has a ratio.</p>")
    for module, png in charts.items():
        parts += [f"<h3>{html.escape(module)}</h3>", _image(png, f"ratio history of {module}")]
    latest = runs[-1]
    previous = runs[-2] if len(runs) > 1 else None
    parts.append(f"<h3>Latest run ({html.escape(latest.label.replace(chr(10), ', '))})</h3>")
    parts.append("<table><tr><th>benchmark</th><th>reference</th><th>seconds</th><th>ratio</th>"
                 "<th>previous ratio</th></tr>")  # fmt: skip
    for name in sorted(latest.seconds):
        ratio = latest.ratios.get(name)
        before = previous.ratios.get(name) if previous else None
        parts.append(
            f'<tr data-benchmark="{html.escape(name)}"><td>{html.escape(name)}</td>'
            f'<td class="t">{html.escape(latest.references.get(name, ""))}</td><td>{fmt(latest.seconds[name])}</td>'
            f"<td>{'' if ratio is None else fmt(ratio)}</td><td>{'' if before is None else fmt(before)}</td></tr>"
        )
    parts.append("</table>")
    machine = ", ".join(f"{k}: {html.escape(_short(v))}" for k, v in latest.machine.items())
    parts.append(f'<p class="note">Machine of the latest run: {machine or "not recorded"}</p>')
    return parts


def _growth_html(meta: dict[str, Any], curves: list[Curve], charts: dict[str, bytes]) -> list[str]:
    parts = ["<h2>Growth curves</h2>"]
    if not curves:
        return [*parts, "<p>The growth file holds no curves.</p>"]
    machine = meta.get("machine", {})
    described = (
        ", ".join(f"{k}: {html.escape(_short(v))}" for k, v in machine.items()) if isinstance(machine, dict) else ""
    )
    parts.append(f'<p class="note">Run {html.escape(str(meta.get("date", "")))}, commit '
                 f'{html.escape(str(meta.get("commit")))}; {described}. Memory: '
                 f'{html.escape(str(meta.get("memory", "peak RSS")))}.</p>')  # fmt: skip
    for key, value in meta.items():
        if key not in ("commit", "date", "machine", "memory", "sizes"):  # e.g. a merged second run
            parts.append(f'<p class="note">{html.escape(key)}: {html.escape(json.dumps(value))}</p>')
    parts.append("<table><tr><th>curve</th><th>method</th><th>sizes</th><th>time exponent</th>"
                 "<th>memory exponent</th><th>speed-up of fastdos over it (largest common n)</th>"
                 "<th>skipped</th></tr>")  # fmt: skip
    for curve in curves:
        for method, series in curve.methods.items():
            slope = exponent(series.n, series.seconds)
            memory = exponent(series.n, series.peak_mb)
            flag = method == "fastdos" and slope is not None and slope > SUPERLINEAR
            skipped = "; ".join(f"{s.get('n')}: {s.get('reason', '')}" for s in series.skipped)
            parts.append(
                f"<tr><td>{html.escape(curve.name)}</td><td class=t>{html.escape(method)}</td><td>{len(series.n)}</td>"
                f"<td{' class=flag' if flag else ''}>{'' if slope is None else f'{slope:.2f}'}"
                f"{' (faster than linear)' if flag else ''}</td><td>{'' if memory is None else f'{memory:.2f}'}</td>"
                f'<td>{_speedup(curve, method)}</td><td class="t">{html.escape(skipped)}</td></tr>'
            )
    parts.append("</table>")
    for curve in curves:
        parts += [f'<h3 id="{html.escape(curve.name)}">{html.escape(curve.title)}</h3>',
                  _image(charts[curve.name], f"growth of {curve.name}"), _points_table(curve)]  # fmt: skip
    return parts


def _speedup(curve: Curve, method: str) -> str:
    """``method`` seconds / fastdos seconds at the largest size both measured, as ``"12.3x at n=100000"``."""
    ours, theirs = curve.methods.get("fastdos"), curve.methods[method]
    if ours is None or method == "fastdos":
        return ""
    common = sorted(set(ours.n) & set(theirs.n))
    if not common:
        return ""
    n = common[-1]
    return f"{fmt(theirs.seconds[theirs.n.index(n)] / ours.seconds[ours.n.index(n)])}x at n={n}"


def _points_table(curve: Curve) -> str:
    reference = curve.methods.get(curve.reference)
    rows = ["<table><tr><th>method</th><th>n</th><th>seconds</th><th>peak MiB</th>"
            f"<th>{html.escape(curve.reference or 'reference')} s / method s (&gt; 1: faster)</th></tr>"]  # fmt: skip
    for method, series in curve.methods.items():
        for n, seconds, peak in zip(series.n, series.seconds, series.peak_mb, strict=True):
            ratio = ""
            if reference is not None and n in reference.n:
                ratio = fmt(reference.seconds[reference.n.index(n)] / seconds)
            rows.append(
                f'<tr data-curve="{html.escape(curve.name)}" data-method="{html.escape(method)}" data-n="{n}">'
                f"<td>{html.escape(method)}</td><td>{n}</td><td>{fmt(seconds)}</td>"
                f"<td>{'' if peak is None else fmt(peak)}</td><td>{ratio}</td></tr>"
            )
    rows.append("</table>")
    return "".join(rows)


def build(history: Path, growth: Path, out: Path) -> Path:
    """Write ``out/index.html`` and its PNGs; returns the page's path."""
    runs = read_history(history)
    meta, curves = read_growth(growth)
    history_charts = history_pngs(runs)
    growth_charts = {curve.name: growth_png(curve) for curve in curves}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):
        stale.unlink()
    for module, png in history_charts.items():
        (out / f"history-{Path(module).stem}.png").write_bytes(png)
    for name, png in growth_charts.items():
        (out / f"growth-{name}.png").write_bytes(png)
    page = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>fastdos benchmarks</title>",
        f"<style>{STYLE}</style></head><body>", "<h1>fastdos benchmarks</h1>",
        f'<p class="note">From {html.escape(history.name)} and {html.escape(growth.name)} '
        "(bench/bench_report.py).</p>",
        *_history_html(runs, history_charts), *_growth_html(meta, curves, growth_charts), "</body></html>",
    ]  # fmt: skip
    target = out / "index.html"
    target.write_text("\n".join(page) + "\n", encoding="utf-8")
    return target


def summary(growth: Path) -> str:
    """The exponents as Markdown table rows (for bench/RESULTS.md)."""
    _, curves = read_growth(growth)
    lines = ["| curve | method | time exponent | memory exponent |", "|---|---|---|---|"]
    for curve in curves:
        for method, series in curve.methods.items():
            slope, memory = exponent(series.n, series.seconds), exponent(series.n, series.peak_mb)
            lines.append(f"| {curve.name} | {method} | {'' if slope is None else f'{slope:.2f}'} | "
                         f"{'' if memory is None else f'{memory:.2f}'} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-report", description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, default=ROOT / "bench" / "history.jsonl")
    parser.add_argument("--growth", type=Path, default=ROOT / "bench" / "growth.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "report")
    parser.add_argument("--summary", action="store_true", help="print the growth exponents as Markdown rows")
    args = parser.parse_args(argv)
    try:
        if args.summary:
            print(summary(args.growth))
            return 0
        page = build(args.history, args.growth, args.out)
    except ReportError as exc:
        print(f"bench-report: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"bench-report: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    print(f"bench-report: wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
