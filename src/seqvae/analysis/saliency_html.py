"""A self-contained HTML page (inline CSS, no scripts, no external assets) of adversary saliency."""

from __future__ import annotations

import json
from html import escape

from matplotlib import colormaps

COLORMAP = "YlOrRd"
_LEGEND_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta { color: #666; font-size: 13px; margin: 0 0 16px; }
.legend { display: flex; flex-wrap: wrap; gap: 10px 36px; align-items: center; font-size: 13px;
  padding: 10px 14px; background: #f6f6f6; border-radius: 6px; margin-bottom: 8px; }
.scale { position: relative; width: 260px; height: 14px; border: 1px solid #999; margin: 2px 0 16px; }
.tick { position: absolute; top: 15px; font-size: 11px; transform: translateX(-50%); }
.rate { position: absolute; top: -4px; bottom: -4px; border-left: 2px solid #1f4e9a; }
.notes { color: #555; font-size: 13px; margin: 0 0 18px; max-width: 1000px; line-height: 1.45; }
.row { display: flex; gap: 10px; align-items: flex-start; margin: 0 0 10px; }
.n { color: #999; font-size: 12px; width: 28px; text-align: right; padding-top: 6px; flex: none; }
.sentence { display: flex; flex-wrap: wrap; gap: 4px 3px; }
.k { color: #888; font-size: 11px; padding-top: 7px; white-space: nowrap; }
.w { display: inline-flex; flex-direction: column; align-items: center; padding: 2px 5px 1px;
  border: 2px solid transparent; border-radius: 4px; font-size: 16px; line-height: 1.2; }
.w small { font-size: 10px; opacity: 0.8; font-variant-numeric: tabular-nums; }
.w.drop { border-color: #111; }
.w.bos { color: #888; border: 1px dashed #aaa; padding: 3px 6px 2px; }
.w.unk span { text-decoration: underline dotted; }
details { margin-top: 24px; font-size: 13px; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 11px; }
"""


def drop_colour(p: float) -> tuple[str, str]:
    """``(background, text)`` CSS colours of a drop probability ``p`` in ``[0, 1]``."""
    r, g, b, _ = colormaps[COLORMAP](min(max(p, 0.0), 1.0))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return f"rgb({round(255 * r)},{round(255 * g)},{round(255 * b)})", "#fff" if luminance < 0.5 else "#111"


def _word(i: int, sentence: dict) -> str:
    word, p = sentence["words"][i], sentence["drop_prob"][i]
    tip = (
        f"mu = {sentence['mu'][i]:.3f}, sigma = {sentence['sigma'][i]:.3f}, "
        f"normalised = {sentence['normalised'][i]:+.2f}, P(drop) = {p:.3f}"
    )
    if i == 0:
        return f'<span class="w bos" title="{escape(tip)}; never dropped"><span>{escape(word)}</span></span>'
    classes = ["w"]
    if i in sentence["dropped"]:
        classes.append("drop")
        tip += "; dropped at R by its mean score"
    if not sentence["known"][i]:
        classes.append("unk")
        tip += "; not in the vocabulary, read as <unk>"
    background, text = drop_colour(p)
    return (
        f'<span class="{" ".join(classes)}" style="background:{background};color:{text}" title="{escape(tip)}">'
        f"<span>{escape(word)}</span><small>{p:.2f}</small></span>"
    )


def _legend(rate: float) -> str:
    stops = ", ".join(f"{drop_colour(t / 10)[0]} {10 * t}%" for t in range(11))
    ticks = "".join(f'<span class="tick" style="left:{100 * t:g}%">{t:g}</span>' for t in _LEGEND_TICKS)
    rate_mark = f'<span class="rate" style="left:{100 * rate:g}%" title="uniform dropout rate R"></span>'
    scale = f'<div class="scale" style="background:linear-gradient(to right, {stops})">{ticks}{rate_mark}</div>'
    boxed = '<span class="w drop" style="background:#fff"><span>word</span></span>'
    return (
        '<div class="legend">'
        f"<div>P(drop) under the adversary's score distribution{scale}</div>"
        f'<div><span style="border-left:2px solid #1f4e9a">&nbsp;</span> R = {rate:g}: '
        "every word's drop probability under uniform dropout</div>"
        f"<div>{boxed} dropped at R by the mean scores (the K lowest)</div>"
        "</div>"
    )


def render_page(data: dict) -> str:
    """The page of a :func:`seqvae.analysis.saliency.saliency_json` dict: one coloured row per sentence."""
    rate = data["rate"]
    rows = []
    for n, sentence in enumerate(data["sentences"], start=1):
        words = "".join(_word(i, sentence) for i in range(len(sentence["words"])))
        count = f'<span class="k">K = {sentence["k"]} of T = {sentence["length"]}</span>'
        rows.append(f'<div class="row"><span class="n">{n}</span><div class="sentence">{words}{count}</div></div>')
    meta = " · ".join(
        escape(str(part))
        for part in (
            data.get("checkpoint", ""),
            data.get("source", ""),
            f"R = {rate:g}",
            f"{data['samples']} score draws per sentence, seed {data['seed']}",
        )
        if part
    )
    notes = (
        "Each word is a decoder input, coloured by the probability that the adversary drops it: that it is among "
        "the K = round(R&middot;T) lowest of the scores s<sub>i</sub> = &mu;<sub>i</sub> + &sigma;<sub>i</sub>"
        "&epsilon;<sub>i</sub> drawn during training (the small number). A sentence's probabilities sum to K. "
        "&lt;s&gt; is scored but never dropped; &lt;/s&gt; is never a decoder input, so it has no score and is "
        "not shown. Dotted underline: a word outside the vocabulary, read as &lt;unk&gt;. "
        "Hover a word for &mu;, &sigma; and its normalised score."
    )
    numbers = escape(json.dumps(data, indent=1, ensure_ascii=False))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Adversary saliency (R = {rate:g})</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<h1>Which words the adversary drops</h1>\n<p class="meta">{meta}</p>\n{_legend(rate)}\n'
        f'<p class="notes">{notes}</p>\n' + "\n".join(rows) + "\n"
        f"<details><summary>All numbers (JSON)</summary><pre>{numbers}</pre></details>\n</body>\n</html>\n"
    )
