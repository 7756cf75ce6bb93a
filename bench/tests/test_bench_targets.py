"""What each server is started with, and the benchmark's model and request."""

import orjson
import pytest

from mlsbench import iris, targets


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> iris.IrisCase:
    return iris.train(tmp_path_factory.mktemp("model"))


def _opts(case: iris.IrisCase, tmp_path) -> targets.Options:
    return targets.Options(
        model_dir=case.model_dir,
        work_dir=tmp_path,
        max_batch_size=32,
        max_batch_delay_ms=2.0,
        mlserver_parallel_workers=1,
    )


def test_the_row_is_a_virginica_and_the_body_is_v2(case):
    assert case.expected == 2
    body = orjson.loads(case.v2_body())
    assert body["inputs"][0]["shape"] == [1, 4]
    assert body["inputs"][0]["datatype"] == "FP32"


def test_prediction_of_names_a_response_without_outputs():
    with pytest.raises(ValueError, match="carries no outputs"):
        iris.prediction_of(b'{"error": "model iris is not ready"}')


def test_ours_batch_gets_the_batching_flags_and_grpc_port_only_when_asked(case, tmp_path):
    ports = targets.Ports(http=20001, grpc=20002, metrics=20003)
    plain = targets.launch("ours", _opts(case, tmp_path), ports).argv
    batch = targets.launch("ours-batch", _opts(case, tmp_path), ports, grpc=True).argv
    assert "--max-batch-size" not in plain
    assert "--grpc-port" not in plain
    assert batch[batch.index("--max-batch-size") + 1] == "32"
    assert batch[batch.index("--max-batch-delay-ms") + 1] == "2"
    assert batch[batch.index("--grpc-port") + 1] == "20002"


def test_mlserver_settings_carry_every_port_and_the_worker_count(case, tmp_path):
    ports = targets.Ports(http=20001, grpc=20002, metrics=20003)
    launch = targets.launch("mlserver-inline", _opts(case, tmp_path), ports)
    settings = orjson.loads((launch.cwd / "settings.json").read_bytes())
    model = orjson.loads((launch.cwd / "iris" / "model-settings.json").read_bytes())
    assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == (
        20001,
        20002,
        20003,
    )
    assert settings["parallel_workers"] == 0
    assert settings["debug"] is False
    assert model["parameters"]["uri"] == str(case.model_dir / "model.joblib")


def test_unknown_server_names_the_choices(case, tmp_path):
    ports = targets.Ports(http=1, grpc=2, metrics=3)
    with pytest.raises(ValueError, match="server 'triton' is unknown; choose from ours"):
        targets.launch("triton", _opts(case, tmp_path), ports)


def test_server_env_drops_the_openblas_override_unless_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert "OPENBLAS_CORETYPE" not in targets.server_env(keep_openblas_env=False)
    kept = targets.server_env(keep_openblas_env=True)
    assert kept["OPENBLAS_CORETYPE"] == "Haswell"
    assert kept["OPENBLAS_NUM_THREADS"] == "1"
