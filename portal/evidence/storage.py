"""Where evidence bytes live: a local folder outside static/ on one machine, S3 (boto3) for several.

Keys are random and chosen by the portal, never derived from a file's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

KEY_PATTERN = re.compile(r"^[a-z_]+/[0-9a-f]{32}$")


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def read(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def keys_with_times(self) -> Iterator[tuple[str, datetime]]: ...


def _checked(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".partial")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # a reader never sees half a file

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys_with_times(self) -> Iterator[tuple[str, datetime]]:
        if not self.root.is_dir():
            return
        for path in self.root.glob("*/*"):
            key = f"{path.parent.name}/{path.name}"
            if KEY_PATTERN.fullmatch(key):
                yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)


class S3Storage:
    def __init__(self, bucket: str, **client_options: Any) -> None:
        import boto3  # noqa: PLC0415 - a third of a second to import; only a portal storing files in S3 needs it

        self.bucket = bucket
        self.client = boto3.client("s3", **client_options)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=_checked(key), Body=data, ContentType=content_type)

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=_checked(key))["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=_checked(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - with boto3, only for S3

        try:
            self.client.head_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError:
            return False
        return True

    def keys_with_times(self) -> Iterator[tuple[str, datetime]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"].astimezone(UTC)


def make_storage(app: Flask) -> Storage:
    config = app.config
    if config["EVIDENCE_STORAGE"] == "s3":
        options = {
            "endpoint_url": config["EVIDENCE_S3_ENDPOINT_URL"] or None,
            "region_name": config["EVIDENCE_S3_REGION"],
            "aws_access_key_id": config["EVIDENCE_S3_ACCESS_KEY"] or None,
            "aws_secret_access_key": config["EVIDENCE_S3_SECRET_KEY"] or None,
        }
        return S3Storage(config["EVIDENCE_S3_BUCKET"], **options)
    return LocalStorage(config["EVIDENCE_LOCAL_ROOT"])


def storage_of(app: Flask) -> Storage:
    storage = app.extensions.get("portal_evidence_storage")
    if storage is None:
        storage = app.extensions["portal_evidence_storage"] = make_storage(app)
    return storage
