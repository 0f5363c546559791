"""Attention heatmaps of the date model as PNG files, like the
plot_attention_weights of the attention_keras example: one image per input,
columns the input characters, rows the output characters.

    pip install matplotlib numpy
    SEQATTN_LIBRARY=build/libseqattn.so python examples/plot_attention.py \\
        "Saturday, 21 November 2026" "21/11/2026" --out attention
    # writes attention_0.png, attention_1.png

--model FILE uses another model file; --device cuda runs on the GPU.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402

import seqattn  # noqa: E402
from seqattn.model import Model  # noqa: E402


def plot_attention_weights(weights, src_tokens, out_tokens, filename, title=None):
    """weights [len(out_tokens), len(src_tokens)] as a heatmap saved to `filename`."""
    shown_src = ["\u2423" if t == " " else t for t in src_tokens]
    fig, ax = plt.subplots(figsize=(0.35 * len(src_tokens) + 2.0, 0.35 * len(out_tokens) + 1.6))
    im = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="equal")
    ax.set_xticks(np.arange(len(src_tokens)), labels=shown_src)
    ax.set_yticks(np.arange(len(out_tokens)), labels=out_tokens)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, pad=12, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="attention weight")
    fig.tight_layout()
    fig.savefig(filename, dpi=150)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="*", default=["Saturday, 21 November 2026"])
    parser.add_argument("--model", default=None, help="model file (default: the date model)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", default="attention", help="file name prefix")
    args = parser.parse_args()

    with seqattn.Handle(args.device) as handle, Model(handle, args.model) as model:
        for i, text in enumerate(args.texts):
            weights, src, out = model.attention(text)
            filename = f"{args.out}_{i}.png"
            plot_attention_weights(weights, src, out, filename,
                                   title=f"{text!r} \u2192 {''.join(out)!r}")
            print(f"{text!r} -> {model.translate(text)!r}: {filename}")


if __name__ == "__main__":
    main()
