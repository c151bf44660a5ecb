"""Out-of-fold comparison of the shipped TF-IDF detector with MiniLM-based ones, at the same
false-positive budgets and on the same folds as the trainer.

    python evaluate.py --dump /tmp/crossroads-transformer/oof.tsv --embeddings /tmp/crossroads-transformer/embeddings.npy

A  the shipped TF-IDF logistic regressions (the dump's out-of-fold scores)
B  logistic regression on the embeddings alone
C  logistic regression on [logit of A's out-of-fold score, embedding], per outer fold on the
   other folds' rows
D  the mean of A's and B's probabilities

Every detector is the bot's: rules OR model, and a message of a word or two (`read` = 0 in
the dump) is left to the rules. Thresholds are fixed as the trainer fixes them: the model alone
flags at most 1% of the messages that are not a crisis (crisis), 1.5% of ordinary ones (advice).
"""

import argparse
import json
import math
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from common import read_dump

FOLDS = 5
CRISIS_BUDGET = 0.010
ADVICE_BUDGET = 0.015
CURVE = [0.0025, 0.005, 0.01, 0.02, 0.03]
CATEGORIES = ["suicide", "self-harm", "harm-to-others", "abuse", "coded", "unlabelled"]
GRID = [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def threshold_for(scores, budget):
    """The trainer's rule: just above the first score that would exceed the budget."""
    ordered = np.sort(np.asarray(scores, dtype=np.float32))[::-1]
    allowed = int(math.floor(len(ordered) * budget))
    if allowed >= len(ordered):
        return np.float32(0.0)
    return np.nextafter(ordered[allowed], np.float32(np.inf))


def wilson(k, n, z=1.959964):
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def recall_at(scores, target, pool, budget):
    """Recall on `target` rows of the model alone at the threshold that flags `budget` of `pool`."""
    t = threshold_for(scores[pool], budget)
    return (scores[target] >= t).mean(), t


def fit(x, y, c):
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return model


def choose_c(x, y, folds, negatives, budget):
    """C by inner cross-validation on the outer training rows, for recall at the budget."""
    best = None
    inner = sorted(set(folds.tolist()))
    for c in GRID:
        scores = np.zeros(len(y), dtype=np.float32)
        for f in inner:
            train, test = folds != f, folds == f
            scaler = StandardScaler().fit(x[train])
            scores[test] = fit(scaler.transform(x[train]), y[train], c).predict_proba(scaler.transform(x[test]))[:, 1]
        recall, _ = recall_at(scores, y == 1, negatives, budget)
        if best is None or recall > best[1]:
            best = (c, recall)
    return best[0]


def out_of_fold(x, y, folds, negatives, budget, read, label):
    scores = np.zeros(len(y), dtype=np.float32)
    chosen = []
    for f in range(FOLDS):
        train, test = folds != f, folds == f
        c = choose_c(x[train], y[train], folds[train], negatives[train], budget)
        chosen.append(c)
        scaler = StandardScaler().fit(x[train])
        scores[test] = fit(scaler.transform(x[train]), y[train], c).predict_proba(scaler.transform(x[test]))[:, 1]
    print(f"  {label}: C per fold {chosen}", flush=True)
    # As the bot runs: a message of a word or two is left to the rules.
    scores[~read] = 0.0
    return scores


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def evaluate(name, crisis_scores, advice_scores, data):
    is_crisis, not_crisis, is_advice, is_ordinary = data["is_crisis"], ~data["is_crisis"], data["is_advice"], data["is_ordinary"]
    rules = data["rules"]
    t_crisis = threshold_for(crisis_scores[not_crisis], CRISIS_BUDGET)
    t_advice = threshold_for(advice_scores[is_ordinary], ADVICE_BUDGET)
    model_crisis = crisis_scores >= t_crisis
    crisis = (rules == "crisis") | model_crisis
    advice = ~crisis & ((rules == "advice") | (advice_scores >= t_advice))
    found = int(crisis[is_crisis].sum())
    total = int(is_crisis.sum())
    result = {
        "name": name,
        "crisis_threshold": float(t_crisis),
        "advice_threshold": float(t_advice),
        "model_recall": int(model_crisis[is_crisis].sum()),
        "model_false_positives": int(model_crisis[not_crisis].sum()),
        "found": found,
        "total": total,
        "recall": found / total,
        "wilson": wilson(found, total),
        "false_positives": int(crisis[not_crisis].sum()),
        "not_crisis": int(not_crisis.sum()),
        "categories": {},
        "advice_found": int((advice | crisis)[is_advice].sum()),
        "advice_total": int(is_advice.sum()),
        "advice_false_positives": int(advice[is_ordinary].sum()),
        "ordinary": int(is_ordinary.sum()),
        "curve": {},
        "detected": crisis,
    }
    for category in CATEGORIES:
        rows = is_crisis & (data["category"] == category)
        result["categories"][category] = (int(crisis[rows].sum()), int(rows.sum()))
    for budget in CURVE:
        t = threshold_for(crisis_scores[not_crisis], budget)
        flagged = (rules == "crisis") | (crisis_scores >= t)
        result["curve"][budget] = (int(flagged[is_crisis].sum()), int((crisis_scores >= t)[not_crisis].sum()), int(flagged[not_crisis].sum()))
    return result


def paired(a, b, is_crisis, repeats=2000, seed=7):
    """Recall gain of b over a on the crisis messages, with a paired bootstrap interval and the
    discordant counts (thresholds held fixed)."""
    da, db = a["detected"][is_crisis], b["detected"][is_crisis]
    gain = db.mean() - da.mean()
    random = np.random.default_rng(seed)
    n = len(da)
    diffs = np.empty(repeats)
    for r in range(repeats):
        pick = random.integers(0, n, n)
        diffs[r] = db[pick].mean() - da[pick].mean()
    low, high = np.percentile(diffs, [2.5, 97.5])
    return gain, (low, high), int((db & ~da).sum()), int((da & ~db).sum())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--embeddings", required=True)
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args()
    rows = read_dump(args.dump)
    emb = np.load(args.embeddings)
    assert emb.shape[0] == len(rows)
    folds = np.array([r["fold"] for r in rows])
    label = np.array([r["label"] for r in rows])
    data = {
        "is_crisis": label == "crisis",
        "is_advice": label == "advice",
        "is_ordinary": label == "ordinary",
        "rules": np.array([r["rules_only"] for r in rows]),
        "category": np.array([r["category"] for r in rows]),
        "fold": folds,
    }
    read = np.array([r["read"] for r in rows])
    a_crisis = np.array([r["crisis"] for r in rows], dtype=np.float32)
    a_advice = np.array([r["advice"] for r in rows], dtype=np.float32)
    y_crisis = data["is_crisis"].astype(int)
    y_advice = data["is_advice"].astype(int)
    crisis_pool, advice_pool = ~data["is_crisis"], data["is_ordinary"]

    print("B: logistic regression on the embeddings", flush=True)
    b_crisis = out_of_fold(emb, y_crisis, folds, crisis_pool, CRISIS_BUDGET, read, "crisis")
    b_advice = out_of_fold(emb, y_advice, folds, advice_pool, ADVICE_BUDGET, read, "advice")
    print("C: stacked on [logit A, embedding]", flush=True)
    c_crisis = out_of_fold(np.hstack([logit(a_crisis)[:, None], emb]), y_crisis, folds, crisis_pool, CRISIS_BUDGET, read, "crisis")
    c_advice = out_of_fold(np.hstack([logit(a_advice)[:, None], emb]), y_advice, folds, advice_pool, ADVICE_BUDGET, read, "advice")
    d_crisis = (a_crisis + b_crisis) / 2
    d_advice = (a_advice + b_advice) / 2

    results = [
        evaluate("A tf-idf (shipped)", a_crisis, a_advice, data),
        evaluate("B embedding LR", b_crisis, b_advice, data),
        evaluate("C stacked", c_crisis, c_advice, data),
        evaluate("D mean(A,B)", d_crisis, d_advice, data),
    ]
    report(results, data)
    if args.json:
        for r in results:
            r.pop("detected")
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)


def pct(k, n):
    return f"{100 * k / max(n, 1):.1f}%"


def report(results, data):
    a = results[0]
    print("\n| detector | model-alone recall | model-alone FP | rules OR model recall (95% Wilson) | FP rules OR model | advice recall | advice FP (ordinary) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        lo, hi = r["wilson"]
        print(
            f"| {r['name']} | {r['model_recall']} | {r['model_false_positives']} of {r['not_crisis']} | "
            f"{pct(r['found'], r['total'])} ({r['found']} of {r['total']}; {100 * lo:.1f}–{100 * hi:.1f}) | "
            f"{pct(r['false_positives'], r['not_crisis'])} ({r['false_positives']}) | "
            f"{pct(r['advice_found'], r['advice_total'])} ({r['advice_found']}) | "
            f"{pct(r['advice_false_positives'], r['ordinary'])} ({r['advice_false_positives']}) |"
        )
    print("\n| detector | " + " | ".join(CATEGORIES) + " |")
    print("| --- |" + " --- |" * len(CATEGORIES))
    for r in results:
        cells = [f"{pct(*r['categories'][c])} ({r['categories'][c][0]}/{r['categories'][c][1]})" for c in CATEGORIES]
        print(f"| {r['name']} | " + " | ".join(cells) + " |")
    print("\nRecall of rules OR model at matched model-alone false-positive rates (gain over A in points):")
    print("| detector | " + " | ".join(f"{100 * b:g}% FP" for b in CURVE) + " |")
    print("| --- |" + " --- |" * len(CURVE))
    for r in results:
        cells = []
        for b in CURVE:
            found, model_fp, _ = r["curve"][b]
            gain = 100 * (found - a["curve"][b][0]) / r["total"]
            cells.append(f"{pct(found, r['total'])} ({model_fp} FP){'' if r is a else f', {gain:+.1f}'}")
        print(f"| {r['name']} | " + " | ".join(cells) + " |")
    print("\nPaired gain over A at the 1% budget (bootstrap 95% interval; messages found only by X / only by A):")
    for r in results[1:]:
        gain, (lo, hi), only_x, only_a = paired(a, r, data["is_crisis"])
        print(f"  {r['name']}: {100 * gain:+.2f} points ({100 * lo:+.2f} to {100 * hi:+.2f}); {only_x} / {only_a}")
    print("\nGain over A per fold at the 1% budget (thresholds over all folds), in points:")
    for r in results[1:]:
        cells = []
        for f in range(FOLDS):
            rows = data["is_crisis"] & (data["fold"] == f)
            cells.append(f"{100 * (r['detected'][rows].mean() - a['detected'][rows].mean()):+.1f}")
        print(f"  {r['name']}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
