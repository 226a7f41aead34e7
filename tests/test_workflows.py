"""The workflows jaxfit exists for, end to end, on real data."""

import subprocess
import sys

import jax
import numpy as np
import optax
import pandas as pd
from sklearn.linear_model import LogisticRegression

import jaxfit
from jaxfit import data, metrics, models, penalties


def test_csv_split_logistic_accuracy(tmp_path):
    # Write the bundled breast-cancer set out as a user's CSV and go from the file.
    ds = data.load_example("breast_cancer")
    frame = pd.DataFrame(ds.X, columns=ds.feature_names)
    frame["diagnosis"] = np.asarray(ds.classes)[ds.y]
    path = tmp_path / "cancer.csv"
    frame.to_csv(path, index=False)

    loaded = data.load_csv(path, target="diagnosis")
    assert loaded.classes == ("benign", "malignant") and loaded.X.shape == (569, 30)
    X_train, X_test, y_train, y_test = data.train_test_split(
        loaded.X, loaded.y, test_size=0.25, key=jax.random.key(0), stratify=True)
    scaling = data.standardize(X_train)
    n = len(y_train)
    result = jaxfit.fit(models.logistic(), "binary_cross_entropy", scaling.apply(X_train), y_train,
                        optimizer=optax.lbfgs(), penalty=penalties.l2(1.0 / n), steps=300, tol=1e-6)
    assert bool(result.converged)
    logits = models.logistic().apply(result.params, scaling.apply(X_test))
    ours = float(metrics.accuracy(y_test, logits > 0))
    reference = LogisticRegression(C=1.0).fit(scaling.apply(X_train), y_train)
    assert ours > 0.94
    assert abs(ours - reference.score(scaling.apply(X_test), y_test)) <= 1.0 / len(y_test) + 1e-9


def test_python_dash_m_jaxfit_demo_prints_real_scores(tmp_path):
    out = subprocess.run([sys.executable, "-m", "jaxfit", "demo"], capture_output=True, text=True,
                         timeout=300, check=True, cwd=tmp_path).stdout
    accuracy = float(out.split("test accuracy")[1].split()[0])
    assert 0.9 <= accuracy <= 1.0
