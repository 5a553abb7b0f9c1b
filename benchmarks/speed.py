"""Speed of TransformerTextClassifier next to hand-written PyTorch and baselines.

Everything runs in one process, variants alternated within each repeat (their
order rotated between repeats); every figure is the median over the repeats.
Times are wall-clock and CPU seconds of this process; on a shared machine the
CPU seconds move less with other jobs, so the targets are judged on them.
Torch, numpy and BLAS use ``--threads`` threads (default 1, see ``_threads``).

Measured, on the fine-food reviews (``modeldata``) unless said otherwise:

1. Training overhead: the same :class:`TextClassifierModule` (the estimator's
   default sizes), data (tokenized once), length-bucketed batches (same
   ``BatchIterator`` and seed), AdamW and epochs, trained by a minimal
   hand-written loop and by ``TransformerTextClassifier.fit``. The fit's
   tokenization and vocabulary are timed alone and reported separately.
2. Inference overhead: ``predict_proba`` on the test reviews vs a bare
   ``torch.inference_mode()`` loop over the same length-sorted batches of
   ``INFERENCE_BATCH_SIZE`` documents, with and without tokenization.
3. Uneven lengths: the estimator's epoch vs the hand-written loop padding every
   batch to ``max_len`` (+1 for ``[CLS]``) without length bucketing.
4. Throughput: training FLOP/s of the default text model (matmul FLOPs of the
   actual padded batches: QKV, output projection, feed-forward, attention
   scores and weighted sum, head; x3 for forward + backward) as a share of the
   measured dense float32 matmul peak at the same thread count.
5. Tokenization: ``iter_tokenize`` + ``build_vocabulary`` (the estimator's path,
   vocabulary and encoded ids) vs ``CountVectorizer().fit_transform``, in
   documents per second, at 5,000 reviews (train + test) and 100,000 (the
   5,000 repeated and shuffled with a fixed seed).
Peak memory of a text fit at 1,000 to 100,000 documents: ``memory.py``. The
seed tutorial's Keras / TensorFlow model, measured next to the estimator on
the same reviews: ``keras_seed.py``.

Run: ``python benchmarks/speed.py [--quick] [--threads 1] [--repeats 3]``
"""

import argparse
import time

import _threads  # noqa: F401  (sets thread variables before numpy and torch load)
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state

from sklearn_transformers import TransformerTextClassifier
from sklearn_transformers._base import INFERENCE_BATCH_SIZE
from sklearn_transformers._data import BatchIterator, RaggedTokens
from sklearn_transformers._text_module import TextClassifierModule
from sklearn_transformers._vocabulary import (
    PAD_ID,
    build_vocabulary,
    encode,
    iter_tokenize,
)

from _common import (
    load_reviews,
    machine_line,
    markdown_table,
    median,
    timed,
)

# The default parameters, with the from-scratch values of the "auto" ones.
_DEFAULT_CLF = TransformerTextClassifier()
DEFAULTS = {name: _DEFAULT_CLF._resolved(name) for name in _DEFAULT_CLF.get_params()}
MODEL_SIZES = ("embed_dim", "num_heads", "num_layers", "ff_dim", "dropout", "pooling")

FULL = dict(
    n_train=None,  # all 4,000
    n_test=None,  # all 1,000
    epochs=2,
    padded_epochs=1,
    inference_repeats=7,
    peak_size=1024,
    tokenize_sizes=(5_000, 100_000),
)
QUICK = dict(
    n_train=128,
    n_test=64,
    epochs=1,
    padded_epochs=1,
    inference_repeats=1,
    peak_size=256,
    tokenize_sizes=(200, 1_000),
)


# ----------------------------------------------------------------- helpers
def estimator_seed(random_state):
    """The seed the estimator's fit derives from ``random_state`` (see _base)."""
    return check_random_state(random_state).randint(np.iinfo(np.int32).max)


def resample(docs, labels, n, seed=0):
    """``n`` documents drawn by repeating the corpus and shuffling (fixed seed)."""
    order = np.random.default_rng(seed).permutation(np.resize(np.arange(len(docs)), n))
    return [docs[i] for i in order], np.asarray(labels)[order]


def tokenize_and_build(docs):
    """The estimator's text path: tokens, vocabulary and encoded ids."""
    return build_vocabulary(
        iter_tokenize(docs), max_len=DEFAULTS["max_len"], min_df=DEFAULTS["min_df"]
    )


def tokenize_and_encode(docs, vocabulary):
    """The estimator's inference path: documents to ``RaggedTokens``."""
    ids, offsets, _ = encode(
        iter_tokenize(docs), vocabulary, max_len=DEFAULTS["max_len"]
    )
    return RaggedTokens(ids, offsets, pad_id=PAD_ID)


def encode_training(docs, labels):
    """The training set as the estimator sees it: ``(vocabulary, RaggedTokens)``."""
    vocabulary, ids, offsets, _ = tokenize_and_build(docs)
    y = torch.as_tensor(LabelEncoder().fit_transform(labels))
    return vocabulary, RaggedTokens(ids, offsets, y, pad_id=PAD_ID)


def build_module(vocab_size, n_classes, seed):
    """The estimator's default module, initialised as its fit does."""
    torch.manual_seed(seed)
    return TextClassifierModule(
        vocab_size,
        n_classes,
        **{name: DEFAULTS[name] for name in MODEL_SIZES},
        max_len=DEFAULTS["max_len"] + 1,
        pad_id=PAD_ID,
    )


def make_estimator(epochs):
    """The default estimator with a constant learning rate (like the hand loop)."""
    return TransformerTextClassifier(
        max_epochs=epochs, lr_schedule="constant", random_state=0
    )


def unbucketed_batches(n, batch_size, rng):
    """Shuffled batches with no regard to length."""
    return np.array_split(rng.permutation(n), range(batch_size, n, batch_size))


def verdict(value, target, higher_is_better):
    """'met' or how far the value misses the target."""
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    return f"missed by {abs(value / target - 1):.1%}"


# ------------------------------------------------------------ hand loops
def hand_train(data, vocab_size, n_classes, seed, epochs, *, pad_to=None):
    """A minimal PyTorch training loop; returns the last epoch's mean loss.

    With ``pad_to`` every batch is padded to that width and batches are drawn
    without length bucketing; otherwise batches come from the estimator's
    ``BatchIterator`` with the estimator's seed.
    """
    module = build_module(vocab_size, n_classes, seed)
    optimizer = torch.optim.AdamW(
        module.parameters(),
        lr=DEFAULTS["lr"],
        weight_decay=DEFAULTS["weight_decay"],
        fused=True,
    )
    iterator = BatchIterator(data, DEFAULTS["batch_size"], shuffle=True, seed=seed)
    rng = np.random.default_rng(seed)
    module.train()
    for _ in range(epochs):
        if pad_to is None:
            batches = iterator.batch_indices()
        else:
            batches = unbucketed_batches(len(data), DEFAULTS["batch_size"], rng)
        total = 0.0
        for idx in batches:
            xb, yb = data.batch(idx)
            if pad_to is not None:
                xb = F.pad(xb, (0, pad_to - xb.shape[1]), value=PAD_ID)
            optimizer.zero_grad()
            loss = F.cross_entropy(module(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
    return total / len(data)


def bare_predict_proba(module, data, n_classes):
    """Softmax outputs from length-sorted batches under ``inference_mode``."""
    module.eval()
    proba = np.empty((len(data), n_classes), dtype=np.float32)
    with torch.inference_mode():
        for idx in BatchIterator(data, INFERENCE_BATCH_SIZE).batch_indices():
            xb, _ = data.batch(idx)
            proba[idx] = torch.softmax(module(xb), dim=1).numpy()
    return proba


# ---------------------------------------------------------------- clocks
def clocked(fn, *args, **kwargs):
    """Run ``fn`` once; return ``(result, array([wall seconds, CPU seconds]))``.

    CPU seconds (``time.process_time``, all threads of this process) count only
    the time this process ran, so on a shared machine they move less with
    other people's jobs than wall-clock seconds do.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, np.array([time.perf_counter() - wall, time.process_time() - cpu])


def medians(values):
    """Element-wise median of ``[wall, cpu]`` pairs."""
    return np.median(np.asarray(values), axis=0)


def seconds_cell(values, column):
    """Median of one column, with the range over repeats when there are several."""
    column_values = np.asarray(values)[:, column]
    cell = f"{np.median(column_values):.3f}"
    if len(column_values) > 1:
        cell += f" ({column_values.min():.2f}-{column_values.max():.2f})"
    return cell


# ---------------------------------------------------- 1, 3: training loops
def measure_training(docs, labels, settings, repeats):
    """Alternate hand loop, estimator fit and padded hand loop.

    Returns the per-epoch ``[wall, cpu]`` timings of each variant, the
    last-epoch losses, the last fitted estimator and the encoded data.
    """
    vocabulary, data = encode_training(docs, labels)
    n_classes = len(np.unique(labels))
    seed = estimator_seed(0)
    epochs, padded_epochs = settings["epochs"], settings["padded_epochs"]
    runs = {"hand": [], "fit": [], "fit_net": [], "tokenize": [], "padded": []}
    durs, losses, fitted = [], {}, []

    def hand():
        loss, seconds = clocked(
            hand_train, data, len(vocabulary), n_classes, seed, epochs
        )
        runs["hand"].append(seconds / epochs)
        losses["hand"] = loss

    def estimator():
        _, tokenize_s = clocked(tokenize_and_build, docs)
        est, seconds = clocked(make_estimator(epochs).fit, docs, labels)
        runs["tokenize"].append(tokenize_s)
        runs["fit"].append(seconds / epochs)
        runs["fit_net"].append((seconds - tokenize_s) / epochs)
        durs.append(median(est.history_[:, "dur"]))
        losses["estimator"] = est.history_[-1, "train_loss"]
        fitted[:] = [est]

    def padded():
        _, seconds = clocked(
            hand_train,
            data,
            len(vocabulary),
            n_classes,
            seed,
            padded_epochs,
            pad_to=DEFAULTS["max_len"] + 1,
        )
        runs["padded"].append(seconds / padded_epochs)

    # Warm-up: the first training run in a process pays one-off start-up costs.
    warm = data.subset(np.arange(min(len(data), 128)))
    hand_train(warm, len(vocabulary), n_classes, seed, 1)
    make_estimator(1).fit(docs[:128], labels[:128])

    variants = [hand, estimator, padded]
    for r in range(repeats):
        for variant in variants[r % 3 :] + variants[: r % 3]:
            variant()
    runs["dur"] = [[d, np.nan] for d in durs]
    return runs, losses, fitted[0], data


def training_table(runs):
    """Rows per variant: wall and CPU s / epoch, ratios to the hand loop."""
    hand = medians(runs["hand"])
    tokenize_s = medians(runs["tokenize"])[0]
    variants = [
        ("hand-written loop, bucketed batches", "hand"),
        ("estimator fit minus tokenization + vocabulary", "fit_net"),
        (
            f"estimator fit total (tokenization + vocabulary: {tokenize_s:.2f} s "
            "per fit)",
            "fit",
        ),
        ("estimator, skorch's per-epoch `dur` (wall)", "dur"),
    ]
    rows = []
    for label, key in variants:
        ratio = medians(runs[key]) / hand
        target = status = ""
        if key == "fit_net":
            target, status = "<= 1.03", verdict(ratio[1], 1.03, False)
        rows.append(
            [
                label,
                seconds_cell(runs[key], 0),
                "" if key == "dur" else seconds_cell(runs[key], 1),
                f"{ratio[0]:.3f}",
                "" if key == "dur" else f"{ratio[1]:.3f}",
                target,
                status,
            ]
        )
    header = [
        "variant",
        "wall s / epoch (range)",
        "CPU s / epoch (range)",
        "wall ratio",
        "CPU ratio",
        "target",
        "status (CPU)",
    ]
    return markdown_table(header, rows)


def padding_table(runs):
    estimator, padded = medians(runs["fit_net"]), medians(runs["padded"])
    speedup = padded / estimator
    rows = [
        [
            "estimator fit minus tokenization (per-batch padding, bucketing)",
            seconds_cell(runs["fit_net"], 0),
            seconds_cell(runs["fit_net"], 1),
            "",
            "",
            "",
        ],
        [
            f"hand-written loop, every batch padded to {DEFAULTS['max_len'] + 1}, "
            "no bucketing",
            seconds_cell(runs["padded"], 0),
            seconds_cell(runs["padded"], 1),
            f"{speedup[0]:.2f}x / {speedup[1]:.2f}x",
            ">= 1.5x",
            verdict(speedup[1], 1.5, True),
        ],
    ]
    header = [
        "variant",
        "wall s / epoch",
        "CPU s / epoch",
        "estimator faster by (wall / CPU)",
        "target",
        "status (CPU)",
    ]
    return markdown_table(header, rows)


# --------------------------------------------------------- 2: inference
def inference_table(est, docs, repeats):
    """``predict_proba`` vs a bare loop, with and without tokenization."""
    n_classes = len(est.classes_)
    runs = {"estimator": [], "encode": [], "bare": []}
    for _ in range(repeats):
        proba, seconds = clocked(est.predict_proba, docs)
        runs["estimator"].append(seconds)
        data, seconds = clocked(tokenize_and_encode, docs, est.vocabulary_)
        runs["encode"].append(seconds)
        bare, seconds = clocked(bare_predict_proba, est.module_, data, n_classes)
        runs["bare"].append(seconds)
    runs["net"] = [
        e - t for e, t in zip(runs["estimator"], runs["encode"], strict=True)
    ]
    same = np.allclose(proba, bare, atol=1e-5)
    n, bare_s = len(docs), medians(runs["bare"])
    encode_s = medians(runs["encode"])[0]
    variants = [
        ("bare `inference_mode` loop, softmax", "bare"),
        ("`predict_proba` minus tokenization + encoding", "net"),
        (
            f"`predict_proba` total (tokenization + encoding: {encode_s:.3f} s)",
            "estimator",
        ),
    ]
    rows = []
    for label, key in variants:
        seconds = medians(runs[key])
        ratio = seconds / bare_s
        target = status = ""
        if key == "net":
            target, status = "<= 1.05", verdict(ratio[1], 1.05, False)
        rows.append(
            [
                label,
                f"{n / seconds[0]:,.0f}",
                f"{ratio[0]:.3f}",
                f"{ratio[1]:.3f}",
                target,
                status,
            ]
        )
    header = [
        "variant",
        "documents / s (wall)",
        "wall time ratio",
        "CPU time ratio",
        "target",
        "status (CPU)",
    ]
    note = (
        f"{n:,} documents, {repeats} alternated repeats. Same probabilities from "
        f"both (atol 1e-5): {same}."
    )
    return markdown_table(header, rows), note


# ---------------------------------------------------------- 4: throughput
def matmul_peak(size, repeats=15):
    """Dense float32 ``torch.mm`` GFLOP/s (median of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)  # warm-up
    times = [timed(torch.mm, a, b, out=out)[1] for _ in range(repeats)]
    return 2 * size**3 / median(times) / 1e9


def epoch_flops(data, epochs, n_classes):
    """Training matmul FLOPs per epoch of the default model (x3 for backward).

    Counted from the padded width of every bucketed batch of ``epochs``
    passes; also returns the share of positions that are real tokens.
    """
    d, ff = DEFAULTS["embed_dim"], DEFAULTS["ff_dim"]
    seed = estimator_seed(0)
    iterator = BatchIterator(data, DEFAULTS["batch_size"], shuffle=True, seed=seed)
    flops, real, padded = 0, 0, 0
    for _ in range(epochs):
        for idx in iterator.batch_indices():
            batch, length = len(idx), int(data.lengths[idx].max())
            positions = batch * length
            dense = 2 * positions * (3 * d * d + d * d + 2 * d * ff)
            attention = 2 * 2 * batch * length * length * d  # scores, weighted sum
            flops += DEFAULTS["num_layers"] * (dense + attention)
            flops += 2 * batch * d * n_classes
            real += int(data.lengths[idx].sum())
            padded += positions
    return 3 * flops / epochs, real / padded


def throughput_table(data, runs, settings, n_classes):
    """Training GFLOP/s (from CPU seconds per epoch) as a share of matmul peak."""
    peak = median([matmul_peak(settings["peak_size"]) for _ in range(3)])
    flops, real_share = epoch_flops(data, settings["epochs"], n_classes)
    rows = [[f"`torch.mm` {settings['peak_size']}^2 float32", f"{peak:.1f}", "100%"]]
    for label, key in [
        ("hand-written loop", "hand"),
        ("estimator fit minus tokenization", "fit_net"),
    ]:
        gflops = flops / medians(runs[key])[1] / 1e9
        rows.append([label, f"{gflops:.1f}", f"{gflops / peak:.1%}"])
    share = flops / medians(runs["fit_net"])[1] / 1e9 / peak
    table = markdown_table(["what", "GFLOP/s", "% of matmul peak"], rows)
    note = (
        f"{flops / 1e9:.1f} GFLOP per training epoch (matmuls x3), per CPU second "
        f"of the training section above; {real_share:.0%} of the computed "
        "positions are real tokens. Target >= 25% of peak for the estimator: "
        f"{verdict(share, 0.25, True)}."
    )
    return table, note, peak


# -------------------------------------------------------- 5: tokenization
def tokenization_table(docs, sizes, repeats):
    rows = []
    for n in sizes:
        subset, _ = resample(docs, np.zeros(len(docs)), n)
        variants = {
            "ours": lambda d=subset: tokenize_and_build(d),
            "count": lambda d=subset: CountVectorizer().fit_transform(d),
            "count2": lambda d=subset: CountVectorizer(min_df=2).fit_transform(d),
        }
        runs = {name: [] for name in variants}
        names = list(variants)
        for r in range(repeats):
            for name in names[r % 3 :] + names[: r % 3]:
                runs[name].append(timed(variants[name])[1])
        rate = {name: n / median(times) for name, times in runs.items()}
        ratio = rate["ours"] / rate["count"]
        rows.append(
            [
                f"{n:,}",
                f"{rate['ours']:,.0f}",
                f"{rate['count']:,.0f}",
                f"{ratio:.2f}",
                f"{rate['count2']:,.0f}",
                f"{rate['ours'] / rate['count2']:.2f}",
                verdict(ratio, 1.0, True),
            ]
        )
    header = [
        "documents",
        "tokenize + build_vocabulary, docs / s",
        "CountVectorizer(), docs / s",
        "ratio",
        "CountVectorizer(min_df=2), docs / s",
        "ratio",
        "target >= 1.0",
    ]
    return markdown_table(header, rows)


# ------------------------------------------------------------------ main
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch / BLAS threads (default 1)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternated repeats per figure"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = QUICK if args.quick else FULL
    repeats = 1 if args.quick else args.repeats

    train_docs, train_y, test_docs, _ = load_reviews()
    train_docs = list(train_docs)[: settings["n_train"]]
    train_y = train_y.to_numpy()[: settings["n_train"]]
    test_docs = list(test_docs)[: settings["n_test"]]
    n_classes = len(np.unique(train_y))

    print(
        f"Machine: {machine_line()}. {repeats} repeat(s) per figure, variants "
        "alternated in one process, medians shown. Model: the estimator's "
        "defaults ("
        + ", ".join(f"{name}={DEFAULTS[name]!r}" for name in MODEL_SIZES)
        + f", max_len={DEFAULTS['max_len']}), batch {DEFAULTS['batch_size']}, "
        f"AdamW(lr={DEFAULTS['lr']}, weight_decay={DEFAULTS['weight_decay']}, "
        f"fused=True), constant learning rate, {len(train_docs):,} training "
        f"reviews, {settings['epochs']} epoch(s) per run. Times are wall-clock "
        "and CPU seconds (`time.process_time`); on a shared machine the CPU "
        "figures are the steadier ones, so the targets are judged on them.\n"
    )
    runs, losses, est, data = measure_training(train_docs, train_y, settings, repeats)
    print("### Training overhead: estimator fit vs a hand-written PyTorch loop\n")
    print(training_table(runs))
    print(
        f"\nLast-epoch training loss: hand loop {losses['hand']:.5f}, estimator "
        f"{losses['estimator']:.5f} (same seed, batches and initial weights).\n"
    )

    print("### Inference overhead: predict_proba vs a bare inference loop\n")
    table, note = inference_table(
        est, test_docs, max(repeats, settings["inference_repeats"])
    )
    print(f"{table}\n\n{note}\n")

    print("### Uneven lengths: per-batch padding vs padding to max_len\n")
    print(padding_table(runs) + "\n")

    print("### Training throughput vs dense matmul peak\n")
    table, note, _ = throughput_table(data, runs, settings, n_classes)
    print(f"{table}\n\n{note}\n")

    print("### Tokenization: vocabulary + encoding vs CountVectorizer\n")
    corpus = list(train_docs) + list(test_docs)
    print(tokenization_table(corpus, settings["tokenize_sizes"], repeats))
    print(
        "\nLarger sizes repeat the reviews, shuffled with a fixed seed. Our "
        "tokenizer also keeps punctuation marks and one-letter words as "
        "tokens, which CountVectorizer's default pattern drops.\n"
    )


if __name__ == "__main__":
    main()
