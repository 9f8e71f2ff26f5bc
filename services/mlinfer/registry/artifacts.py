"""Content-addressed artifact stores: a local directory or S3 (boto3).

An artifact's key is ``sha256/<hex digest>``: the same bytes are stored once, and a
download is verified against its name before anything loads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mlinfer.registry.errors import ChecksumMismatchError, StorageUnavailableError
from mlinfer.registry.settings import RegistrySettings

CHUNK = 1024 * 1024


def artifact_key(sha256: str) -> str:
    return f"sha256/{sha256}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore(ABC):
    name: str

    @abstractmethod
    def put(self, path: Path, sha256: str) -> None:
        """Store the file under its digest (a no-op when it is already there)."""

    @abstractmethod
    def _fetch(self, sha256: str, target: Path) -> None: ...

    @abstractmethod
    def delete(self, sha256: str) -> None: ...

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    def fetch_verified(self, sha256: str, target: Path) -> None:
        """Download to ``target`` and check the digest; a mismatch leaves no file."""
        self._fetch(sha256, target)
        actual = sha256_of(target)
        if actual != sha256:
            target.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"artifact sha256:{sha256[:12]}... failed verification after download "
                f"(got sha256:{actual[:12]}...): refusing to load it"
            )


class LocalArtifactStore(ArtifactStore):
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, path: Path, sha256: str) -> None:
        target = self._path(sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)  # readers see the whole file or none

    def _fetch(self, sha256: str, target: Path) -> None:
        source = self._path(sha256)
        if not source.exists():
            raise StorageUnavailableError(f"artifact sha256:{sha256} is missing from the store")
        shutil.copyfile(source, target)

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


class S3ArtifactStore(ArtifactStore):
    """boto3 against any S3 API; large files go up in parts (``upload_file``)."""

    name = "s3"

    def __init__(self, settings: RegistrySettings) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        secret = settings.s3_secret_key
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                connect_timeout=settings.s3_timeout_seconds,
                read_timeout=settings.s3_timeout_seconds,
                retries={"max_attempts": 2},
                s3={"addressing_style": "path"},
            ),
        )
        self._bucket = settings.s3_bucket
        self._transfer = TransferConfig(
            multipart_threshold=settings.s3_multipart_threshold_bytes,
            multipart_chunksize=max(5 * CHUNK, settings.s3_multipart_threshold_bytes // 2),
        )

    def ensure_bucket(self) -> None:
        with _s3_errors("create bucket"):
            try:
                self._client.head_bucket(Bucket=self._bucket)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                self._client.create_bucket(Bucket=self._bucket)

    def put(self, path: Path, sha256: str) -> None:
        if self.exists(sha256):
            return
        with _s3_errors("upload"):
            self._client.upload_file(
                str(path), self._bucket, artifact_key(sha256), Config=self._transfer
            )

    def _fetch(self, sha256: str, target: Path) -> None:
        with _s3_errors("download"):
            self._client.download_file(
                self._bucket, artifact_key(sha256), str(target), Config=self._transfer
            )

    def delete(self, sha256: str) -> None:
        with _s3_errors("delete"):
            self._client.delete_object(Bucket=self._bucket, Key=artifact_key(sha256))

    def exists(self, sha256: str) -> bool:
        with _s3_errors("look up"):
            try:
                self._client.head_object(Bucket=self._bucket, Key=artifact_key(sha256))
            except Exception as exc:
                if _status(exc) == 404:
                    return False
                raise
        return True


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(code) if code else None
    return None


@contextlib.contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """Any failure to reach S3 is a 503 that says what was tried."""
    try:
        yield
    except StorageUnavailableError:
        raise
    except Exception as exc:
        raise StorageUnavailableError(f"artifact store (S3) {what} failed: {exc}") from exc


def create_store(settings: RegistrySettings) -> ArtifactStore:
    if settings.artifact_store == "s3":
        store = S3ArtifactStore(settings)
        # The registry starts anyway; pushes answer 503 until S3 is back.
        with contextlib.suppress(StorageUnavailableError):
            store.ensure_bucket()
        return store
    return LocalArtifactStore(settings.artifact_dir)


def copy_with_digest(
    source: BinaryIO, target: Path, progress: Callable[[int], None] | None = None
) -> tuple[str, int]:
    """Copy a stream to a file, returning its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            if progress is not None:
                progress(size)
    return digest.hexdigest(), size
