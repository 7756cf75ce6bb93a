"""Write the models the examples read: `python examples/make_models.py [--home DIR] [--s3 URL]`.

Volumes go under the data dir (`--home`, else $MLS_HOME, else ~/.mlservice), where
`pvc://tutorial/...` and `pvc://demo/...` look; run it before or while `mls up` runs. The
TorchServe stores go to `tutorial/torchserve/` (examples/torchserve/make_models.py). The KServe
examples' iris models go to `tutorial/models/sklearn/{1.0,2.0,3.0}/model/`, the local twin of
KServe's `gs://kfserving-examples/models/sklearn/1.0/model`. With
`--s3 http://127.0.0.1:9000` the S3 examples' objects (`s3://models/example/`,
`s3://models/mnist/`) are uploaded there too, with the example Secrets' keys (user/password);
any S3 endpoint works, e.g. `moto_server -p 9000` from the dev install.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from mlservice.demo.examples import write_example_models
from mlservice.home import Home

IRIS_VERSIONS = ("1.0", "2.0", "3.0")


def write_iris_models(home: Home) -> list[Path]:
    """Three iris classifiers (the canary walk-through's versions), one folder each."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    features, labels = load_iris(return_X_y=True)
    estimators = (
        LogisticRegression(max_iter=500),
        DecisionTreeClassifier(random_state=0),
        KNeighborsClassifier(),
    )
    written = []
    for version, estimator in zip(IRIS_VERSIONS, estimators, strict=True):
        folder = home.volume("tutorial") / "models" / "sklearn" / version / "model"
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(estimator.fit(features, labels), folder / "model.joblib")
        written.append(folder / "model.joblib")
    return written


def upload(root: Path, *, endpoint: str, access_key: str, secret_key: str) -> list[str]:
    """Put every file under `root` (`<bucket>/<key>`) to the endpoint; the URIs written."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    written = []
    for bucket in sorted(p for p in root.iterdir() if p.is_dir()):
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket.name not in existing:
            s3.create_bucket(Bucket=bucket.name)
        for path in sorted(p for p in bucket.rglob("*") if p.is_file()):
            key = path.relative_to(bucket).as_posix()
            s3.upload_file(str(path), bucket.name, key)
            written.append(f"s3://{bucket.name}/{key}")
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="data dir (default: $MLS_HOME, ~/.mlservice)")
    parser.add_argument("--s3", metavar="URL", help="also upload the S3 examples' objects here")
    parser.add_argument("--access-key", default="user")
    parser.add_argument("--secret-key", default="password")
    args = parser.parse_args()
    home = Home.from_env(args.home)
    made = write_example_models(home)
    for path in [*made.written, *write_iris_models(home)]:
        print(f"wrote {path}")
    # The TorchServe model stores (digits.mar, sentiment.mar): torchserve/ in the volume tutorial.
    torchserve = Path(__file__).resolve().parent / "torchserve" / "make_models.py"
    subprocess.run(
        [sys.executable, str(torchserve), str(home.volume("tutorial") / "torchserve")], check=True
    )
    for reason in made.skipped:
        print(f"skipped {reason}")
    if args.s3 and made.s3_root is not None:
        for uri in upload(
            made.s3_root, endpoint=args.s3, access_key=args.access_key, secret_key=args.secret_key
        ):
            print(f"uploaded {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
