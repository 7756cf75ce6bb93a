"""The models the manifests in examples/ read, trained in seconds on scikit-learn's bundled
digits (no download) and written where the manifests look for them.

Volumes (`pvc://NAME/PATH` is `$MLS_HOME/volumes/NAME/PATH`):

    tutorial/tutorial-examples/deployment/pvc/mlservice-torch/model.pt   TorchScript "mnist"
    tutorial/model-11-02, model-11-05, model-11-11                       three sklearn releases
    tutorial/models/example/model.joblib                                 an sklearn classifier
    tutorial/transformer/model.py                                        the demo's transformer
    demo/path/mnist/model.joblib                                         an sklearn classifier

and the objects of an S3 bucket `models` (`models/example/`, `models/mnist/`) in a local folder,
for `examples/make_models.py --s3` to upload. Every model reads the 64 grey levels (0-16) of an
8x8 digit, as examples/data/3-row.json holds them; the TorchScript one answers probabilities.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlservice.demo.digits import TRANSFORMER
from mlservice.home import Home

TORCH_FOLDER = "tutorial-examples/deployment/pvc/mlservice-torch"
RELEASES = {"model-11-02": "naive-bayes", "model-11-05": "tree", "model-11-11": "neighbours"}
S3_OBJECTS = ("models/example", "models/mnist")


@dataclass
class ExampleModels:
    written: list[Path] = field(default_factory=list)
    """Every model file written into a volume."""
    s3_root: Path | None = None
    """A folder laid out like the S3 endpoint: `<bucket>/<key>`."""
    skipped: list[str] = field(default_factory=list)
    """What could not be made here, and why (e.g. torch is not installed)."""


def write_example_models(home: Home) -> ExampleModels:
    """Train and write every model; TorchScript ones only where torch is installed."""
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    result = ExampleModels()
    home.ensure()  # the data dir and what it holds stay owner-only
    tutorial, demo = home.volume("tutorial"), home.volume("demo")
    estimators = {name: _fit(kind, features, labels) for name, kind in RELEASES.items()}
    for name, estimator in estimators.items():
        result.written.append(_dump(estimator, tutorial / name))
    neighbours = estimators["model-11-11"]
    result.written.append(_dump(neighbours, tutorial / "models" / "example"))
    result.written.append(_dump(neighbours, demo / "path" / "mnist"))
    transformer = tutorial / "transformer"
    transformer.mkdir(parents=True, exist_ok=True)
    (transformer / "model.py").write_text(TRANSFORMER.read_text())
    result.written.append(transformer / "model.py")
    result.s3_root = home.root / "examples-s3"
    for key in S3_OBJECTS:
        _dump(neighbours, result.s3_root / key)
    if importlib.util.find_spec("torch") is None:
        result.skipped.append(
            f"{TORCH_FOLDER}/model.pt: torch is not installed "
            "(pip install -c constraints.txt -e '.[torch]')"
        )
    else:
        result.written.append(_torchscript(features, labels, tutorial / TORCH_FOLDER))
    return result


def _fit(kind: str, features: Any, labels: Any) -> Any:
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    # Three kinds that train in milliseconds, so the releases really answer differently.
    models = {
        "naive-bayes": GaussianNB(),
        "tree": DecisionTreeClassifier(random_state=0),
        "neighbours": KNeighborsClassifier(n_neighbors=3),
    }
    return models[kind].fit(features, labels)


def _dump(estimator: Any, folder: Path) -> Path:
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.joblib"
    joblib.dump(estimator, path)
    return path


def _torchscript(features: Any, labels: Any, folder: Path) -> Path:
    """A small MLP, softmax on top, taking the raw 0-16 levels (the 1/16 scaling used in
    training is folded into the first layer)."""
    import torch

    torch.manual_seed(0)
    first = torch.nn.Linear(64, 32)
    layers = torch.nn.Sequential(first, torch.nn.ReLU(), torch.nn.Linear(32, 10))
    x = torch.tensor(features / 16.0, dtype=torch.float32)
    y = torch.tensor(labels)
    optimiser = torch.optim.Adam(layers.parameters(), lr=0.01)
    for _ in range(150):
        optimiser.zero_grad()
        loss: Any = torch.nn.functional.cross_entropy(layers(x), y)
        loss.backward()  # untyped upstream
        optimiser.step()
    with torch.no_grad():
        first.weight /= 16.0

    class Digits(torch.nn.Module):
        """Any numeric input (JSON integers arrive as int64) in, probabilities out."""

        def __init__(self, layers: torch.nn.Module) -> None:
            super().__init__()
            self.layers = layers

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.layers(x.to(torch.float32)), dim=1)

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.pt"
    scripted: Any = torch.jit.script(Digits(layers).eval())  # untyped upstream
    scripted.save(str(path))
    return path
