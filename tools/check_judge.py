#!/usr/bin/env python3
"""Cross-checks `cadenza judge` with scikit-learn on the same windows and features.

Cadenza writes every window's group, class and 37 features (`--features-csv`) beside its own
report (`--json`); this script fits scikit-learn's classifiers with the same settings under
its own grouped, stratified 5-fold cross-validation (StratifiedGroupKFold) and reports their
held-out AUC next to Cadenza's, with Cadenza's bootstrap interval. The two draw different
folds (and the forest different trees), so they agree when scikit-learn's AUC lies inside
Cadenza's interval, not to the digit. Exit status 1 when one does not.

  logistic  smartcore's L2 logistic regression, objective Σ log-loss + alpha/2 |w|^2 on
            features standardised on each training fold = scikit-learn's LogisticRegression
            with C = 1/alpha (lbfgs)
  forest    50 trees, sqrt(d) features per split, bootstrap = RandomForestClassifier
            (n_estimators=50, max_features="sqrt"); Cadenza scores by the trees' vote share,
            scikit-learn by the mean leaf probability

Setup (PyPI only):
    python3 -m venv /tmp/venv-judge && /tmp/venv-judge/bin/pip install scikit-learn
Run:
    cadenza judge --samples S... --reference R... --json judge.json --features-csv windows.csv
    /tmp/venv-judge/bin/python tools/check_judge.py judge.json windows.csv
"""
import csv
import json
import sys

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler


def main(report_path, csv_path):
    report = json.load(open(report_path))
    rows = list(csv.reader(open(csv_path)))
    data = np.array([[float(v) for v in r] for r in rows[1:]])
    groups, y, x = data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2:]
    opts = report["options"]
    folds, alpha, trees, seed = opts["folds"], opts["alpha"], opts["trees"], opts["seed"]
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = {"logistic": np.zeros(len(y)), "forest": np.zeros(len(y))}
    for train, test in cv.split(x, y, groups):
        sc = StandardScaler().fit(x[train])
        lr = LogisticRegression(C=1.0 / alpha, max_iter=5000).fit(sc.transform(x[train]), y[train])
        scores["logistic"][test] = lr.decision_function(sc.transform(x[test]))
        rf = RandomForestClassifier(n_estimators=trees, max_features="sqrt", random_state=seed).fit(x[train], y[train])
        scores["forest"][test] = rf.predict_proba(x[test])[:, 1]
    ok = True
    print(f"{len(y)} windows ({int(y.sum())} generated), {len(set(groups))} groups, {folds} folds")
    print("classifier   Cadenza AUC [95% CI]        scikit-learn AUC   inside")
    for c in report["classifiers"]:
        name = c["classifier"]
        auc = roc_auc_score(y, scores[name])
        lo, hi = c["interval"]
        inside = lo <= auc <= hi
        ok &= inside
        print(f"{name:<12} {c['auc']:.3f} [{lo:.3f}, {hi:.3f}]      {auc:.3f}              {'yes' if inside else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
