"""Attention, step by step, with this library's own torch modules.

The concepts a transformer tutorial walks through, each computed with the
modules that ``TransformerTextClassifier`` and ``AttentionTimeSeriesRegressor``
are built from (``sklearn_transformers._modules`` and ``._text_module``),
printed as numbers and drawn as heatmaps:

1. scaled dot-product attention on a hand-made example of four tokens:
   queries, keys and values, the scores ``Q K^T / sqrt(d)``, their softmax,
   and the output, checked against ``F.scaled_dot_product_attention``;
2. self-attention: ``MultiHeadSelfAttention`` computes Q, K and V from the
   same tokens, one attention pattern per head; a padding mask zeroes the
   attention paid to padding;
3. one ``TransformerBlock`` (pre-LayerNorm attention and feed-forward, each
   with a residual connection) and a two-layer ``TransformerEncoder``;
4. positional encoding: the sinusoidal table, and how similar the position
   vectors of nearby positions are; a ``LearnedPositionalEncoding`` for
   comparison;
5. the causal mask: with ``causal=True`` no token attends to a later one, so
   the upper triangle of the weights is zero;
6. pooling a sequence of states into one vector (``pool``);
7. the attention readout that ``TransformerTextClassifier`` uses by default
   (``AttentionReadout``): scores from contextual states, values from each
   token alone, logits ``bias + sum_j a_j * v_j``, so each token's part of
   the prediction is exact and deleting a token removes exactly its part.
   That is what ``attention_weights`` reports for a trained model.

The modules are untrained (seeded random weights): the point is the
mechanics, not what a trained model attends to (``review_classification.py``
and ``forecasting.py`` show that). Runs in seconds::

    python examples/attention_walkthrough.py [--output-dir DIR] [--quick]

Figures go to ``examples/output/attention_walkthrough/`` by default.
``--quick`` (or ``SKLEARN_TRANSFORMERS_QUICK=1``) is accepted for symmetry
with the other examples; this one is fast either way.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from sklearn_transformers._modules import (  # noqa: E402
    LearnedPositionalEncoding,
    MultiHeadSelfAttention,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    TransformerEncoder,
    pool,
)
from sklearn_transformers._text_module import AttentionReadout  # noqa: E402

from _common import parse_args, save  # noqa: E402

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "output" / "attention_walkthrough"
RANDOM_STATE = 0
TOKENS = ["the", "cat", "sat", "down"]
np.set_printoptions(precision=3, suppress=True, linewidth=100)


def show(name, tensor):
    """Print a tensor as a numpy array, 3 decimals."""
    array = tensor.detach().numpy() if torch.is_tensor(tensor) else tensor
    print(f"{name} {tuple(array.shape)}:\n{array}\n")


def heatmap(ax, matrix, *, title, xlabels=None, ylabels=None, annotate=True, **kw):
    """Draw ``matrix`` as a heatmap with optional token labels and values."""
    matrix = np.asarray(matrix)
    image = ax.imshow(matrix, cmap=kw.pop("cmap", "Reds"), aspect="auto", **kw)
    ax.set_title(title, fontsize=10)
    if xlabels is not None:
        ax.set_xticks(range(len(xlabels)), xlabels)
        ax.set_xlabel("key (attended to)")
    if ylabels is not None:
        ax.set_yticks(range(len(ylabels)), ylabels)
        ax.set_ylabel("query (attending)")
    if annotate:
        lo, hi = image.get_clim()
        for (i, j), value in np.ndenumerate(matrix):
            dark = (value - lo) / (hi - lo + 1e-12) > 0.6
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    return image


def scaled_dot_product(out_dir, figures):
    """1. Attention by hand on four tokens, checked against PyTorch's SDPA."""
    print("=" * 72)
    print("1. Scaled dot-product attention: softmax(Q K^T / sqrt(d)) V")
    print("=" * 72)
    # Hand-made 4-d vectors. Each query looks for a "feature" (a direction)
    # that some key carries: "sat" (a verb) looks for its subject "cat", and
    # "down" looks for the verb "sat"; "the" and "cat" ask for nothing much.
    Q = torch.tensor(
        [
            [0.0, 0.0, 0.0, 0.0],  # the:  no preference -> uniform weights
            [1.0, 0.0, 0.0, 0.0],  # cat:  looks for direction 0 (articles)
            [0.0, 2.0, 0.0, 0.0],  # sat:  looks for direction 1 (nouns)
            [0.0, 0.0, 2.0, 0.0],  # down: looks for direction 2 (verbs)
        ]
    )
    K = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],  # the:  an article
            [0.0, 2.0, 0.0, 0.5],  # cat:  a noun
            [0.0, 0.0, 2.0, 0.5],  # sat:  a verb
            [0.0, 0.0, 0.0, 1.0],  # down: an adverb
        ]
    )
    V = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )  # one-hot values: the output row shows the mix of tokens it took
    d = Q.shape[-1]
    print(f"tokens: {TOKENS}\n")
    show("Q (queries: what each token looks for)", Q)
    show("K (keys: what each token offers)", K)
    show("V (values: what each token passes on)", V)
    scores = Q @ K.T / math.sqrt(d)  # (L, L)
    weights = scores.softmax(dim=-1)  # each row sums to 1
    out = weights @ V  # (L, d)
    show(f"scores = Q K^T / sqrt({d})", scores)
    show("weights = softmax(scores) over each row", weights)
    show("output = weights V (one-hot V: each row is its weights)", out)
    reference = F.scaled_dot_product_attention(Q[None], K[None], V[None])[0]
    close = torch.allclose(out, reference, atol=1e-6)
    print(f"same as F.scaled_dot_product_attention: {close}\n")
    print(
        "Reading the rows: 'sat' puts "
        f"{weights[2, 1]:.2f} of its attention on 'cat', 'down' puts "
        f"{weights[3, 2]:.2f} on 'sat', and 'the' (a zero query) spreads it "
        "evenly (0.25 each).\n"
    )
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    heatmap(
        axes[0],
        scores,
        title="scores Q K^T / sqrt(d)",
        cmap="coolwarm",
        xlabels=TOKENS,
        ylabels=TOKENS,
        vmin=-2.5,
        vmax=2.5,
    )
    heatmap(
        axes[1],
        weights,
        title="weights = softmax(scores), rows sum to 1",
        xlabels=TOKENS,
        ylabels=TOKENS,
        vmin=0,
        vmax=1,
    )
    heatmap(
        axes[2],
        out,
        title="output = weights V",
        vmin=0,
        vmax=1,
        xlabels=[f"v{j}" for j in range(d)],
        ylabels=TOKENS,
    )
    axes[2].set_xlabel("value dimension")
    fig.suptitle("1. Scaled dot-product attention on four hand-made tokens")
    save(fig, out_dir / "1_scaled_dot_product.png", figures)
    return [("scaled dot-product", tuple(weights.shape), weights, close)]


def token_embeddings(length, dim):
    """Seeded random token vectors: the stand-in for an embedding layer."""
    generator = torch.Generator().manual_seed(RANDOM_STATE)
    return torch.randn(1, length, dim, generator=generator)  # (B=1, L, D)


def self_attention(out_dir, figures):
    """2. MultiHeadSelfAttention: Q, K, V all come from the same tokens."""
    print("=" * 72)
    print("2. Self-attention: MultiHeadSelfAttention(embed_dim=8, num_heads=2)")
    print("=" * 72)
    torch.manual_seed(RANDOM_STATE)
    attention = MultiHeadSelfAttention(embed_dim=8, num_heads=2, dropout=0.0).eval()
    # At init the projections are small, so the patterns are near uniform;
    # scale the query/key weights up to get visible preferences.
    with torch.no_grad():
        attention.qkv.weight.mul_(2.0)
    x = token_embeddings(len(TOKENS), 8)  # (1, 4, 8)
    with torch.no_grad():
        out, weights = attention(x, need_weights=True)
    print(
        "One linear layer maps each token to its query, key and value "
        f"(qkv: {tuple(attention.qkv.weight.shape)}), split into 2 heads of "
        "4 dimensions."
    )
    print(f"input x {tuple(x.shape)} -> output {tuple(out.shape)} (same shape)")
    print(f"weights {tuple(weights.shape)} = (batch, heads, query, key)\n")
    for head in range(weights.shape[1]):
        show(f"head {head} weights", weights[0, head])

    # Padding: a batch holds sequences of different lengths; the mask keeps
    # real tokens (True) and removes padding (False) from the keys.
    padded = torch.cat([x, torch.zeros(1, 2, 8)], dim=1)  # 2 padding positions
    key_mask = torch.tensor([[True, True, True, True, False, False]])
    with torch.no_grad():
        _, masked = attention(padded, key_mask, need_weights=True)
    labels = [*TOKENS, "[PAD]", "[PAD]"]
    show("head 0 weights with 2 padding positions masked", masked[0, 0])
    pad_weight = float(masked[0, :, :, 4:].abs().max())
    same = torch.allclose(masked[0, :, :4, :4], weights[0], atol=1e-6)
    print(
        f"largest weight on padding: {pad_weight:.3f}; the real tokens' "
        f"weights are unchanged by the padding: {same}\n"
    )

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    for head in range(2):
        heatmap(
            axes[head],
            weights[0, head],
            title=f"head {head}",
            vmin=0,
            vmax=1,
            xlabels=TOKENS,
            ylabels=TOKENS,
        )
    heatmap(
        axes[2],
        masked[0, 0],
        title="head 0, last 2 positions are padding",
        xlabels=labels,
        ylabels=labels,
        vmin=0,
        vmax=1,
    )
    fig.suptitle(
        "2. Self-attention (MultiHeadSelfAttention, need_weights=True): "
        "one pattern per head; padding gets zero weight"
    )
    save(fig, out_dir / "2_self_attention.png", figures)
    return [
        ("self-attention (2 heads)", tuple(weights.shape), weights, True),
        ("padding mask", tuple(masked.shape), masked, pad_weight == 0.0 and same),
    ]


def transformer_block(out_dir, figures):
    """3. One TransformerBlock, then a two-layer TransformerEncoder."""
    print("=" * 72)
    print("3. A transformer block: x + Attention(LN(x)), then x + FF(LN(x))")
    print("=" * 72)
    torch.manual_seed(RANDOM_STATE)
    block = TransformerBlock(embed_dim=8, num_heads=2, ff_dim=16, dropout=0.0).eval()
    x = token_embeddings(len(TOKENS), 8)
    with torch.no_grad():
        y, weights = block(x, need_weights=True)
        attended, _ = block.attn(block.norm_attn(x))
        h = x + attended
        manual = h + block.ff(block.norm_ff(h))
    print(f"input {tuple(x.shape)} -> output {tuple(y.shape)}: a block keeps the shape")
    same = torch.allclose(y, manual, atol=1e-6)
    print(f"output == x + attn(norm(x)), then + ff(norm(.)): {same}")
    show("change each token's vector got (y - x), first 4 dims", (y - x)[0, :, :4])
    show("block attention, mean over heads", weights[0].mean(0))

    torch.manual_seed(RANDOM_STATE)
    encoder = TransformerEncoder(8, 2, 2, 16, 0.0).eval()
    with torch.no_grad():
        for param in encoder.parameters():
            if param.dim() == 2:
                param.mul_(5.0)  # sharper patterns than the initial weights
        encoded, layers = encoder(x, need_weights=True)
    print(
        f"TransformerEncoder(num_layers=2): output {tuple(encoded.shape)}, "
        f"{len(layers)} weight tensors of shape {tuple(layers[0].shape)}\n"
    )
    for i, layer in enumerate(layers):
        show(f"encoder layer {i} attention, mean over heads", layer[0].mean(0))

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained")
    heatmap(
        axes[0],
        weights[0].mean(0),
        title="one block (initial weights)",
        xlabels=TOKENS,
        ylabels=TOKENS,
        vmin=0,
        vmax=1,
    )
    for i, layer in enumerate(layers):
        heatmap(
            axes[i + 1],
            layer[0].mean(0),
            title=f"encoder layer {i}",
            xlabels=TOKENS,
            ylabels=TOKENS,
            vmin=0,
            vmax=1,
        )
    fig.suptitle(
        "3. TransformerBlock and a 2-layer TransformerEncoder: "
        "attention weights, mean over heads"
    )
    save(fig, out_dir / "3_transformer_block.png", figures)
    return [
        ("transformer block", tuple(weights.shape), weights, same),
        ("encoder layer 1", tuple(layers[1].shape), layers[1], True),
    ]


def positional_encoding(out_dir, figures, length, dim):
    """4. Where a token is: the sinusoidal table and a learned one."""
    print("=" * 72)
    print(f"4. Positional encoding: SinusoidalPositionalEncoding({dim})")
    print("=" * 72)
    sinusoidal = SinusoidalPositionalEncoding(dim)
    table = sinusoidal.table(length)  # (L, D)
    print(
        "Attention itself ignores order (shuffle the tokens and each one gets "
        "the same output, shuffled); a position vector added to each token "
        "tells the model where it is.\n"
        "pe[pos, 2i] = sin(pos / 10000^(2i/D)), pe[pos, 2i+1] = cos(...): "
        "fast waves in the first dimensions, slow ones in the last.\n"
    )
    show(
        f"sinusoidal table, positions 0-5, dims 0-7 (of {tuple(table.shape)})",
        table[:6, :8],
    )
    similarity = table @ table.T / dim  # (L, L)
    show("similarity of position 0 to positions 0-7 (pe . pe / D)", similarity[0, :8])
    print(
        "Nearby positions have similar vectors, and the similarity depends "
        "only on the distance, so attention can learn 'look k steps back'.\n"
    )
    torch.manual_seed(RANDOM_STATE)
    learned = LearnedPositionalEncoding(length, dim)
    print(
        "LearnedPositionalEncoding: a trained table of "
        f"{tuple(learned.embedding.weight.shape)} (random until trained); "
        "the text classifier uses it, the series regressor uses either.\n"
    )

    fig, axes = plt.subplots(
        1, 2, figsize=(12, 4.2), layout="constrained", width_ratios=(1.5, 1)
    )
    image = heatmap(
        axes[0],
        table.T,
        title=f"sinusoidal table ({dim} dims x {length} positions)",
        annotate=False,
        cmap="RdBu_r",
        vmin=-1,
        vmax=1,
    )
    axes[0].set_xlabel("position")
    axes[0].set_ylabel("dimension")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    image = heatmap(
        axes[1],
        similarity,
        title="similarity of position vectors",
        annotate=False,
        cmap="viridis",
    )
    axes[1].set_xlabel("position")
    axes[1].set_ylabel("position")
    fig.colorbar(image, ax=axes[1], shrink=0.8)
    fig.suptitle("4. Sinusoidal positional encoding")
    save(fig, out_dir / "4_positional_encoding.png", figures)
    return [("sinusoidal table", tuple(table.shape), None, True)]


def causal_mask(out_dir, figures):
    """5. causal=True: a token attends to itself and the past only."""
    print("=" * 72)
    print("5. The causal mask: MultiHeadSelfAttention(..., causal=True)")
    print("=" * 72)
    torch.manual_seed(RANDOM_STATE)
    attention = MultiHeadSelfAttention(embed_dim=8, num_heads=2, dropout=0.0).eval()
    with torch.no_grad():
        attention.qkv.weight.mul_(2.0)
    x = token_embeddings(len(TOKENS), 8)
    with torch.no_grad():
        _, full = attention(x, need_weights=True)
        _, causal = attention(x, causal=True, need_weights=True)
    show("head 0 without the mask", full[0, 0])
    show("head 0 with causal=True", causal[0, 0])
    upper = np.triu(causal[0].numpy(), k=1)
    zero = bool(np.all(upper == 0))
    print(
        f"upper triangle (a token attending to a later one) all zero: {zero}; "
        "the first token can only attend to itself (weight 1). This is how a "
        "language model is kept from reading the word it must predict.\n"
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), layout="constrained")
    heatmap(
        axes[0],
        full[0, 0],
        title="no mask",
        xlabels=TOKENS,
        ylabels=TOKENS,
        vmin=0,
        vmax=1,
    )
    heatmap(
        axes[1],
        causal[0, 0],
        title="causal=True: upper triangle is 0",
        xlabels=TOKENS,
        ylabels=TOKENS,
        vmin=0,
        vmax=1,
    )
    fig.suptitle("5. The causal mask (head 0)")
    save(fig, out_dir / "5_causal_mask.png", figures)
    return [("causal mask", tuple(causal.shape), causal, zero)]


def pooling():
    """6. One vector per sequence: pool(hidden, key_mask, how)."""
    print("=" * 72)
    print("6. Pooling: one vector per sequence, padding ignored")
    print("=" * 72)
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, -2.0], [9.0, 9.0]]])
    key_mask = torch.tensor([[True, True, True, False]])  # last one is padding
    show("hidden states (1 sequence, 4 positions, 2 dims; last is padding)", hidden)
    for how in ("mean", "max", "cls", "last"):
        show(f"pool(how={how!r})", pool(hidden, key_mask, how))
    print(
        "mean and max skip the padding; 'cls' takes the first position (the "
        "text classifier's [CLS] token); 'last' takes the final position "
        "whatever the mask says (here the padding), which suits the series "
        "regressor: its windows are never padded and end at the most recent "
        "step.\n"
    )
    pooled = pool(hidden, key_mask, "mean")
    ok = torch.allclose(pooled, torch.tensor([[3.0, 0.0]]))
    return [("mean pooling", tuple(pooled.shape), None, ok)]


def readout():
    """7. The text classifier's attention readout: logits as per-token parts."""
    print("=" * 72)
    print("7. Attention readout: the prediction as a sum of per-token parts")
    print("=" * 72)
    tokens = ["the", "coffee", "was", "great"]
    hidden = torch.randn(1, 4, 8)  # contextual states, as an encoder gives them
    mask = torch.ones(1, 4, dtype=torch.bool)
    head = AttentionReadout(embed_dim=8, num_heads=2, n_classes=2)
    with torch.no_grad():
        head.query.normal_()  # a trained model's query; it starts at zero
        attention = head.attention(hidden, mask)  # (1, 4)
        # Values (one per class) from each token alone: "great" is evidence.
        values = torch.tensor([[[0.0, 0.1], [0.0, 0.3], [0.1, 0.0], [-2.0, 2.0]]])
        logits = head(attention, values)
        parts = attention[0, :, None] * values[0]  # (4, 2): each token's part
    show(f"attention a over {tokens}", attention)
    show("values v (one row per token, one column per class)", values[0])
    show("logits = bias + sum_j a_j * v_j", logits)
    show("each token's part a_j * v_j", parts)
    centred = (values[0] - values[0].mean(dim=1, keepdim=True))[:, 1].abs()
    share = attention[0] * centred
    show("reported weight: a_j * |centred v_j| / sum", share / share.sum())
    print(
        "The parts add up to the logits exactly, so deleting a token removes "
        "its part and nothing else carries its evidence: here 'great' gets "
        "almost all of the reported weight although the attention alone is "
        "spread over the four tokens. attention_weights(X) reports these "
        "shares (method='attention' gives the raw a_j).\n"
    )
    ok = torch.allclose(logits[0], parts.sum(dim=0) + head.bias)
    return [("attention readout", tuple(attention.shape), attention, ok)]


def print_table(rows):
    print("| concept | weights shape | rows sum to 1 | check |")
    print("|---|---|---|---|")
    for name, shape, weights, check in rows:
        if weights is None:
            sums = "-"
        else:
            sums = str(bool(torch.allclose(weights.sum(-1), torch.tensor(1.0))))
        print(f"| {name} | {shape} | {sums} | {'ok' if check else 'FAILED'} |")


def main(argv=None):
    args = parse_args(__doc__, DEFAULT_OUTPUT, argv)
    out_dir = args.output_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(RANDOM_STATE)
    figures = []
    rows = []
    rows += scaled_dot_product(out_dir, figures)
    rows += self_attention(out_dir, figures)
    rows += transformer_block(out_dir, figures)
    length, dim = (32, 16) if args.quick else (64, 32)
    rows += positional_encoding(out_dir, figures, length, dim)
    rows += causal_mask(out_dir, figures)
    rows += pooling()
    rows += readout()

    print("=" * 72)
    print("Results")
    print("=" * 72)
    print_table(rows)
    print(f"\nFigures written to {out_dir}:")
    for path in figures:
        print(f"  {path}")


if __name__ == "__main__":
    main()
