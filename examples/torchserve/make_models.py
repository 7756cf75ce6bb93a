"""Write the TorchServe examples' model stores: `python examples/torchserve/make_models.py [DEST]`.

Two stores, each shaped as the reference's (`config/config.properties` + `model-store/*.mar`):

- `DEST/digits/`: `digits.mar`, a small CNN trained in seconds on scikit-learn's bundled digits
  (8x8, no download) with the custom handler `digits_handler.py` (PNG, base64 or 64 numbers in);
- `DEST/sentiment/`: `sentiment.mar`, a tiny EmbeddingBag text model served by TorchServe's
  built-in `text_classifier` handler, with `source_vocab.pt` and `index_to_name.json`.

The archives are packed by the real `torch-model-archiver` (extra `torchserve`). DEST defaults
to `torchserve/` in the volume `tutorial` under the data dir ($MLS_HOME, else ~/.mlservice),
where `pvc://tutorial/torchserve/digits` looks (examples/make_models.py runs this too). Seeds
are fixed: the same weights on every run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOLUME = "tutorial"
FOLDER = "torchserve"
SEED = 0

SENTENCES = (
    ("what a great and wonderful film", 1),
    ("i loved this movie it was great", 1),
    ("a wonderful story and great acting", 1),
    ("really good fun i loved it", 1),
    ("the best film of the year", 1),
    ("what a terrible and boring film", 0),
    ("i hated this movie it was awful", 0),
    ("a boring story and bad acting", 0),
    ("really bad i hated it", 0),
    ("the worst film of the year", 0),
)
"""The sentiment model's training set: lower case, no punctuation, so TorchServe's text
cleanup leaves every token in the vocabulary (its handler has no unknown-token index)."""

SENTIMENT_LABELS = {"0": "negative", "1": "positive"}


def snapshot_config(name: str, *, batch_size: int = 1) -> str:
    """A config.properties as KServe's TorchServe examples ship: the model by `model_snapshot`.
    The addresses are the reference's; a runtime rewrites them for its own ports."""
    snapshot = {
        "name": "startup.cfg",
        "modelCount": 1,
        "models": {
            name: {
                "1.0": {
                    "defaultVersion": True,
                    "marName": f"{name}.mar",
                    "minWorkers": 1,
                    "maxWorkers": 1,
                    "batchSize": batch_size,
                    "maxBatchDelay": 10,
                    "responseTimeout": 120,
                }
            }
        },
    }
    lines = [
        "inference_address=http://0.0.0.0:8085",
        "management_address=http://0.0.0.0:8085",
        "metrics_address=http://0.0.0.0:8082",
        "grpc_inference_port=7070",
        "grpc_management_port=7071",
        "enable_metrics_api=true",
        "metrics_format=prometheus",
        "number_of_netty_threads=4",
        "job_queue_size=10",
        "enable_envvars_config=true",
        "install_py_dep_per_model=false",
        "model_store=/mnt/models/model-store",
        "model_snapshot=" + json.dumps(snapshot, separators=(",", ":")),
    ]
    return "\n".join(lines) + "\n"


def archiver() -> str:
    beside = Path(sys.executable).with_name("torch-model-archiver")
    found = str(beside) if beside.exists() else shutil.which("torch-model-archiver")
    if found is None:
        raise SystemExit(
            "torch-model-archiver is not installed (pip install 'mlservice[torchserve]')"
        )
    return found


def archive(store: Path, *, name: str, files: dict[str, Path], extra: list[Path]) -> Path:
    """Pack `name`.mar into `store` with torch-model-archiver; `files` maps its flags
    (serialized-file, model-file, handler) to paths."""
    store.mkdir(parents=True, exist_ok=True)
    command = [archiver(), "--model-name", name, "--version", "1.0", "--force"]
    command += ["--export-path", str(store)]
    for flag, path in files.items():
        command += [f"--{flag}", str(path)]
    if extra:
        command += ["--extra-files", ",".join(str(p) for p in extra)]
    subprocess.run(command, check=True)
    return store / f"{name}.mar"


def write_store(root: Path, name: str, *, files: dict[str, Path], extra: list[Path]) -> Path:
    mar = archive(root / "model-store", name=name, files=files, extra=extra)
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.properties").write_text(snapshot_config(name))
    return mar


def train_digits(weights: Path) -> float:
    """Fit DigitsCNN on sklearn's digits; save its state dict; the training accuracy."""
    import torch
    from sklearn.datasets import load_digits

    sys.path.insert(0, str(HERE))
    from digits_cnn import DigitsCNN

    torch.manual_seed(SEED)
    features, labels = load_digits(return_X_y=True)
    x = torch.tensor(features, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(labels)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):  # full batch: ~1 s on a CPU
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimiser.step()
    torch.save(model.state_dict(), weights)
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def ngrams(tokens: list[str]) -> Iterator[str]:
    """The tokens and their bigrams, as TorchServe's text_classifier (ngrams=2) reads them."""
    yield from tokens
    yield from (" ".join(pair) for pair in itertools.pairwise(tokens))


def train_sentiment(weights: Path, vocab_path: Path) -> float:
    import torch

    sys.path.insert(0, str(HERE))
    from text_model import TextClassificationModel

    torch.manual_seed(SEED)
    vocab: dict[str, int] = {}
    rows = []
    for sentence, label in SENTENCES:
        ids = [vocab.setdefault(t, len(vocab)) for t in ngrams(sentence.split())]
        rows.append((ids, label))
    model = TextClassificationModel()
    if len(vocab) > model.embedding.num_embeddings:
        raise SystemExit(f"vocabulary of {len(vocab)} exceeds the model's embedding")
    text = torch.tensor([i for ids, _ in rows for i in ids])
    offsets = torch.tensor([0, *torch.cumsum(torch.tensor([len(r[0]) for r in rows]), 0)[:-1]])
    y = torch.tensor([label for _, label in rows])
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(80):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(text, offsets), y).backward()
        optimiser.step()
    torch.save(model.state_dict(), weights)
    torch.save(vocab, vocab_path)  # a plain dict: loads with torch.load(weights_only=True)
    with torch.no_grad():
        return float((model(text, offsets).argmax(1) == y).float().mean())


def write_digits(dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "digits.pt"
        accuracy = train_digits(weights)
        files = {
            "serialized-file": weights,
            "model-file": HERE / "digits_cnn.py",
            "handler": HERE / "digits_handler.py",
        }
        mar = write_store(dest / "digits", "digits", files=files, extra=[])
    print(f"wrote {mar} (training accuracy {accuracy:.3f})")
    return mar


def write_sentiment(dest: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        weights, vocab = Path(tmp) / "sentiment.pt", Path(tmp) / "source_vocab.pt"
        accuracy = train_sentiment(weights, vocab)
        labels = Path(tmp) / "index_to_name.json"
        labels.write_text(json.dumps(SENTIMENT_LABELS))
        files = {
            "serialized-file": weights,
            "model-file": HERE / "text_model.py",
            "handler": Path("text_classifier"),
        }
        mar = write_store(dest / "sentiment", "sentiment", files=files, extra=[vocab, labels])
    print(f"wrote {mar} (training accuracy {accuracy:.3f})")
    return mar


def default_dest() -> Path:
    from mlservice.home import Home

    return Home.from_env(None).volume(VOLUME) / FOLDER


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dest", nargs="?", type=Path, help=f"default: {FOLDER}/ in the volume {VOLUME}"
    )
    args = parser.parse_args()
    dest = args.dest or default_dest()
    write_digits(dest)
    write_sentiment(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
