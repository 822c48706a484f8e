"""Create S3 buckets that do not exist yet (MinIO or any S3 API), then print one line per bucket.

Usage: python scripts/s3_buckets.py BUCKET [BUCKET ...]
Endpoint and credentials come from the environment: RPS_S3_ENDPOINT (default
http://127.0.0.1:9000), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (us-east-1).
Path-style addressing (MinIO has no per-bucket DNS names). Idempotent; exit 1 on any failure.
Run it with the stack's venv Python (scripts/install-python.sh installs boto3 there).
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError


def client():
    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client(
        "s3",
        endpoint_url=os.environ.get("RPS_S3_ENDPOINT", "http://127.0.0.1:9000"),
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


def exists(s3, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def ensure(s3, bucket: str) -> str:
    if exists(s3, bucket):
        return "exists"
    region = s3.meta.region_name
    kwargs = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "BucketAlreadyOwnedByYou":
            return "exists"
        raise
    return "created"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    s3 = client()
    # MinIO can answer /minio/health/ready a moment before it takes writes: retry briefly.
    deadline = time.monotonic() + 20
    for bucket in argv:
        while True:
            try:
                state = ensure(s3, bucket)
                break
            except (ClientError, EndpointConnectionError) as err:
                code = getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__)
                retriable = code in ("XMinioServerNotInitialized", "ServiceUnavailable", "SlowDown",
                                     "EndpointConnectionError", "503")
                if not retriable or time.monotonic() > deadline:
                    print(f"s3_buckets: {bucket}: {code}: {err}", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        print(f"{bucket} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
