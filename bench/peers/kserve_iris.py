"""The KServe peer: a custom `kserve.Model` serving the benchmark's iris joblib.

Runs inside bench/.venvs/kserve, never in our venv. KServe's own argparse reads the server flags
(`--http_port`, `--workers`, `--enable_grpc`, ...) from sys.argv; this script adds `--model_dir`.
It mirrors KServe's sklearnserver predict path, so the peer does what a KServe user would get.
"""

import argparse
import pathlib
from typing import Any

import joblib
import kserve
from kserve.utils.utils import get_predict_input, get_predict_response


class IrisModel(kserve.Model):  # type: ignore[misc]
    def __init__(self, name: str, model_dir: pathlib.Path) -> None:
        super().__init__(name)
        self._model_dir = model_dir
        self._model: Any = None
        self.load()

    def load(self) -> bool:
        self._model = joblib.load(self._model_dir / "model.joblib")
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        instances = get_predict_input(payload)
        return get_predict_response(payload, self._model.predict(instances), self.name)


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", type=pathlib.Path, required=True)
    args, _ = parser.parse_known_args()
    kserve.ModelServer().start([IrisModel(args.model_name, args.model_dir)])


if __name__ == "__main__":
    main()
