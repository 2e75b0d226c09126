#!/usr/bin/env python3
"""Train Rampart's demo model and write it out as plain data.

The demo model is a standardized logistic regression on scikit-learn's
bundled Wisconsin breast-cancer dataset. It is written as JSON (never as a
pickle) so the pure-Go server in internal/modelserver can embed and evaluate
it without any Python at run time, and so nothing executes when it is loaded.

Run with Debian's python3 (it has scikit-learn):

    /usr/bin/python3 scripts/train_demo_model.py

Output is deterministic: the split and the solver use fixed seeds, and every
number is round-trip exact (json writes float64 repr).
"""

import json
import os
import sys

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

SEED = 42
OUTPUTS = ["examples/demo/breast_cancer_model.json",
           "internal/modelserver/breast_cancer_model.json"]
# Rows of the test split shown in the demo tour: some of each class.
SAMPLES_PER_CLASS = 3


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=SEED,
        stratify=data.target)

    scaler = StandardScaler().fit(x_train)
    clf = LogisticRegression(max_iter=5000, random_state=SEED)
    clf.fit(scaler.transform(x_train), y_train)

    train_acc = clf.score(scaler.transform(x_train), y_train)
    test_acc = clf.score(scaler.transform(x_test), y_test)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}")

    class_names = [str(n) for n in data.target_names]
    assert class_names == ["malignant", "benign"], class_names

    samples = []
    for label in (0, 1):
        idx = [i for i in range(len(y_test)) if y_test[i] == label]
        for i in idx[:SAMPLES_PER_CLASS]:
            row = x_test[i]
            proba = clf.predict_proba(scaler.transform(row.reshape(1, -1)))[0]
            samples.append({
                "features": [float(v) for v in row],
                "label": class_names[int(y_test[i])],
                "probabilities": [float(p) for p in proba],
            })

    model = {
        "name": "breast-cancer",
        "version": "1",
        "description": "standardized logistic regression on the Wisconsin "
                       "breast-cancer dataset (scikit-learn load_breast_cancer)",
        "feature_names": [str(n) for n in data.feature_names],
        "mean": [float(v) for v in scaler.mean_],
        "scale": [float(v) for v in scaler.scale_],
        "coefficients": [float(v) for v in clf.coef_[0]],
        "intercept": float(clf.intercept_[0]),
        "class_names": class_names,
        "train_accuracy": float(train_acc),
        "test_accuracy": float(test_acc),
        "samples": samples,
    }
    text = json.dumps(model, indent=1) + "\n"
    for rel in OUTPUTS:
        path = os.path.join(root, rel)
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.normpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
