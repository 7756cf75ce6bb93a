"""Write the models the examples read: `python examples/make_models.py [--home DIR] [--s3 URL]`.

Volumes go under the data dir (`--home`, else $MLS_HOME, else ~/.mlservice), where
`pvc://tutorial/...` and `pvc://demo/...` look; run it before or while `mls up` runs. With
`--s3 http://127.0.0.1:9000` the S3 examples' objects (`s3://models/example/`,
`s3://models/mnist/`) are uploaded there too, with the example Secrets' keys (user/password);
any S3 endpoint works, e.g. `moto_server -p 9000` from the dev install.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlservice.demo.examples import write_example_models
from mlservice.home import Home


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
    for path in made.written:
        print(f"wrote {path}")
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
