"""A fitted iris classifier as a `model.joblib` file's bytes, for tests that serve a real model."""

from __future__ import annotations

import io


def iris_joblib(labels_shift: int = 0) -> bytes:
    """Logistic regression on iris; a shift permutes its classes (a different model)."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    buffer = io.BytesIO()
    model = LogisticRegression(max_iter=500).fit(features, (labels + labels_shift) % 3)
    joblib.dump(model, buffer)
    return buffer.getvalue()
