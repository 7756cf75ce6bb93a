"""Building an InferenceService component's pod: KServe's container merge and flags (pure)."""

from __future__ import annotations

import pytest

from mlservice.controller.kserve_pod import (
    merge_container,
    model_source,
    transformer_pod,
    unsupported_scheme,
)
from mlservice.engine import ModelSource, StorageKey
from mlservice.resources.inferenceservice import PredictorSpec, TransformerSpec


def test_merge_appends_args_replaces_env_by_name_and_overrides_resources_per_key() -> None:
    runtime = {
        "name": "kserve-container",
        "image": "kserve/sklearnserver",
        "args": ["--model_name={{.Name}}"],
        "env": [{"name": "A", "value": "runtime"}, {"name": "B", "value": "kept"}],
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "1"}},
    }
    model = {
        "name": "ignored",
        "image": "mine",
        "args": ["--workers=2"],
        "env": [{"name": "A", "value": "model"}, {"name": "C", "value": "new"}],
        "resources": {"limits": {"memory": "1Gi"}},
    }
    merged = merge_container(runtime, model)
    assert merged["name"] == "kserve-container"
    assert merged["image"] == "mine"
    assert merged["args"] == ["--model_name={{.Name}}", "--workers=2"]
    assert merged["env"] == [
        {"name": "A", "value": "model"},
        {"name": "B", "value": "kept"},
        {"name": "C", "value": "new"},
    ]
    assert merged["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "1"},
    }


def test_transformer_flags_given_by_the_user_are_kept() -> None:
    spec = TransformerSpec.model_validate(
        {
            "containers": [
                {
                    "name": "t",
                    "image": "x",
                    "command": ["python", "-m", "t"],
                    "args": [
                        "--model_name=other",
                        "--predictor_host",
                        "p:1",
                        "--http_port",
                        "8080",
                    ],
                }
            ]
        }
    )
    (container,) = transformer_pod(spec, name="iris")["containers"]
    assert container["args"] == [
        "--model_name=other",
        "--predictor_host",
        "p:1",
        "--http_port",
        "$(PORT)",
    ]


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("gs://b/m", "gs"),
        ("hdfs://h/m", "hdfs"),
        ("HF://org/m", "hf"),
        ("oci://r/i", "oci"),
        ("pvc://v/m", None),
        ("s3://b/m", None),
        ("https://h/m", None),
        ("file:///m", None),
        ("/local/path", None),
    ],
)
def test_schemes_we_cannot_fetch_are_named(uri: str, scheme: str | None) -> None:
    assert unsupported_scheme(uri) == scheme


def test_model_source_names_the_service_account_and_storage_entry() -> None:
    named = PredictorSpec.model_validate(
        {"serviceAccountName": "models", "sklearn": {"storageUri": "s3://b/iris"}}
    )
    model = named.effective_model()
    assert model is not None
    assert model_source(named, model, mount_path="/mnt/models") == ModelSource(
        "s3://b/iris", mount_path="/mnt/models", service_account="models"
    )
    keyed = PredictorSpec.model_validate(
        {
            "model": {
                "modelFormat": {"name": "sklearn"},
                "storage": {"key": "minio", "path": "iris", "parameters": {"bucket": "x"}},
            }
        }
    )
    model = keyed.effective_model()
    assert model is not None
    source = model_source(keyed, model, mount_path="/mnt/models")
    assert source is not None
    assert (source.uri, source.service_account) == ("", "default")
    assert source.storage == StorageKey("minio", "iris", (("bucket", "x"),))
    bare = PredictorSpec.model_validate({"model": {"modelFormat": {"name": "sklearn"}}})
    model = bare.effective_model()
    assert model is not None
    assert model_source(bare, model, mount_path="/mnt/models") is None
