"""Cache keys that must differ: raw vs classified outputs, framing of names, hash choice."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import xxhash

from mlinfer.cache import key as key_module
from mlinfer.cache.key import default_key_hash, make_key
from mlinfer.core.types import InferRequest, RequestedOutput, Tensor


def _request(outputs: list[RequestedOutput] | None, model: str = "m") -> InferRequest:
    data = np.arange(4, dtype=np.float32).reshape(1, 4)
    return InferRequest(model, [Tensor("x", "FP32", (1, 4), data)], outputs=outputs)


def _digest(request: InferRequest, version: str = "1", algorithm: str = "xxh3_128") -> str:
    return make_key(request, version, algorithm).digest  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["xxh3_128", "blake2b"])
def test_raw_output_and_top_1_classification_never_share_a_key(algorithm: str) -> None:
    raw = _request([RequestedOutput("probabilities", class_count=0)])
    top1 = _request([RequestedOutput("probabilities", class_count=1)])
    top2 = _request([RequestedOutput("probabilities", class_count=2)])
    digests = {_digest(r, algorithm=algorithm) for r in (raw, top1, top2)}
    assert len(digests) == 3


def test_every_output_raw_differs_from_naming_the_outputs() -> None:
    assert _digest(_request(None)) != _digest(_request([RequestedOutput("probabilities")]))


def test_a_negative_class_count_keys_like_a_raw_output() -> None:
    # Validation refuses negative counts before the cache; should one get here, it means raw.
    raw = _request([RequestedOutput("probabilities", class_count=0)])
    negative = _request([RequestedOutput("probabilities", class_count=-3)])
    assert _digest(negative) == _digest(raw)


def test_model_and_version_are_framed_not_concatenated() -> None:
    assert _digest(_request(None, model="ab"), version="c") != _digest(
        _request(None, model="a"), version="bc"
    )


def test_shapes_with_the_same_bytes_differ() -> None:
    data = np.arange(4, dtype=np.float32)
    flat = InferRequest("m", [Tensor("x", "FP32", (4,), data)])
    column = InferRequest("m", [Tensor("x", "FP32", (4, 1), data.reshape(4, 1))])
    square = InferRequest("m", [Tensor("x", "FP32", (2, 2), data.reshape(2, 2))])
    assert len({_digest(r) for r in (flat, column, square)}) == 3


def test_input_boundaries_are_framed() -> None:
    # The same bytes split differently across two inputs must not collide.
    a = np.arange(4, dtype=np.uint8)
    one = InferRequest(
        "m",
        [Tensor("p", "UINT8", (1,), a[:1]), Tensor("q", "UINT8", (3,), a[1:])],
    )
    two = InferRequest(
        "m",
        [Tensor("p", "UINT8", (2,), a[:2]), Tensor("q", "UINT8", (2,), a[2:])],
    )
    assert _digest(one) != _digest(two)


def test_default_hash_is_xxh3_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    request = _request(None)
    assert default_key_hash() == "xxh3_128"
    assert make_key(request, "1").digest == _digest(request, algorithm="xxh3_128")
    monkeypatch.setattr(key_module, "_xxhash", None)
    assert default_key_hash() == "blake2b"
    assert make_key(request, "1").digest == _digest(request, algorithm="blake2b")
    needs = r"^cache key hash 'xxh3_128' needs the 'xxhash' package$"
    with pytest.raises(RuntimeError, match=needs):
        _digest(request, algorithm="xxh3_128")


def test_unknown_hash_is_named() -> None:
    unknown = r"^unknown cache key hash 'md5' \(expected xxh3_128 or blake2b\)$"
    with pytest.raises(ValueError, match=unknown):
        _digest(_request(None), algorithm="md5")


def _framed(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def _layout(algorithm: str, outputs: bytes) -> bytes:
    """The key's preimage written out from its documented layout (KEY_FORMAT 1)."""
    words = struct.pack("<I", 2) + b"hi" + struct.pack("<I", 0)
    pixels = np.array([[1.0, -2.0]], np.float32).tobytes()
    return b"".join(
        [
            _framed(f"mlinfer-response-cache-key/1/{algorithm}"),
            _framed("clf"),
            _framed("3"),
            struct.pack("<I", 2),  # inputs, sorted by name
            _framed("a_pixels"),
            _framed("FP32"),
            struct.pack("<I", 2),
            struct.pack("<qq", 1, 2),
            struct.pack("<Q", len(pixels)),
            pixels,
            _framed("b_words"),
            _framed("BYTES"),
            struct.pack("<I", 1),
            struct.pack("<q", 2),
            struct.pack("<Q", len(words)),
            words,
            outputs,
        ]
    )


def _layout_request(outputs: list[RequestedOutput] | None) -> InferRequest:
    words = Tensor("b_words", "BYTES", (2,), np.array([b"hi", b""], dtype=np.object_))
    pixels = Tensor("a_pixels", "FP32", (1, 2), np.array([[1.0, -2.0]], np.float32))
    return InferRequest("clf", [words, pixels], outputs=outputs)


@pytest.mark.parametrize(
    ("outputs", "encoded"),
    [
        (None, b"\x00"),
        (
            [RequestedOutput("scores", class_count=2), RequestedOutput("raw", class_count=-1)],
            b"\x01"
            + struct.pack("<I", 2)
            + _framed("scores")
            + struct.pack("<Q", 2)
            + _framed("raw")
            + struct.pack("<Q", 0),
        ),
    ],
)
def test_key_layout_is_the_documented_one(
    outputs: list[RequestedOutput] | None, encoded: bytes
) -> None:
    # Stored keys outlive a process (Redis): a layout change must come with a KEY_FORMAT bump.
    request = _layout_request(outputs)
    blake = hashlib.blake2b(_layout("blake2b", encoded), digest_size=16).hexdigest()
    assert _digest(request, version="3", algorithm="blake2b") == blake
    xxh = xxhash.xxh3_128(_layout("xxh3_128", encoded)).hexdigest()
    assert _digest(request, version="3", algorithm="xxh3_128") == xxh
