"""Reads a GGUF file's header: its metadata and where each tensor's bytes are.

A plain ``struct`` parser of the GGUF v2/v3 layout. It reads the whole vocabulary of a
small model in a few tens of milliseconds, where ``gguf.GGUFReader`` takes seconds because
it maps every string separately; tensor bytes are left on disk for the caller to map.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
# GGUF metadata value types: struct format of the fixed-size ones.
_SCALAR_FORMATS = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}
_STRING, _ARRAY = 8, 9


class GgufFormatError(ValueError):
    """The file is not a GGUF file this reader understands; the message says where."""


@dataclass(frozen=True)
class GgufTensor:
    """One tensor's place in the file.

    ``shape`` is in GGUF (ggml) order, innermost dimension first: a linear layer's weight is
    ``(in_features, out_features)``. ``type_id`` is the ggml type (0 F32, 1 F16, 2 Q4_0,
    3 Q4_1, 8 Q8_0, ...); ``offset`` is absolute in the file.
    """

    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int


@dataclass(frozen=True)
class GgufFile:
    """A GGUF file's metadata and tensor directory.

    Example:
        >>> gguf = GgufFile.read(locate_smollm2_gguf())
        >>> gguf.metadata["general.architecture"]
        'llama'
        >>> gguf.tensors["token_embd.weight"].shape
        (576, 49152)
    """

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, GgufTensor]

    @classmethod
    def read(cls, path: Path) -> GgufFile:
        """Parse the header of the GGUF file at ``path``; raises ``GgufFormatError``."""
        data = path.read_bytes() if path.stat().st_size < 1 << 20 else _header_bytes(path)
        try:
            return cls._parse(path, data)
        except (struct.error, UnicodeDecodeError, IndexError) as exc:
            raise GgufFormatError(f"{path}: truncated or corrupt GGUF header ({exc})") from exc

    @classmethod
    def _parse(cls, path: Path, data: bytes) -> GgufFile:
        if data[:4] != _MAGIC:
            raise GgufFormatError(f"{path}: not a GGUF file (magic {data[:4]!r})")
        version, tensor_count, kv_count = struct.unpack_from("<IQQ", data, 4)
        if version not in (2, 3):
            raise GgufFormatError(f"{path}: GGUF version {version} is not supported")
        cursor = _Cursor(data, 24)
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = cursor.string()
            metadata[key] = cursor.value(cursor.uint32())
        infos = []
        for _ in range(tensor_count):
            name = cursor.string()
            dims = tuple(cursor.uint64() for _ in range(cursor.uint32()))
            infos.append((name, dims, cursor.uint32(), cursor.uint64()))
        alignment = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT))
        data_start = -(-cursor.position // alignment) * alignment
        tensors = {
            name: GgufTensor(name, dims, type_id, data_start + offset)
            for name, dims, type_id, offset in infos
        }
        return cls(path=path, metadata=metadata, tensors=tensors)


def _header_bytes(path: Path) -> bytes:
    """The file's bytes up to the end of the tensor directory (read in growing chunks)."""
    size = 16 << 20
    with path.open("rb") as handle:
        while True:
            handle.seek(0)
            data = handle.read(size)
            try:
                GgufFile._parse(path, data)
            except (struct.error, IndexError):
                if len(data) < size:  # the whole file is read and still does not parse
                    return data
                size *= 2
                continue
            return data


class _Cursor:
    def __init__(self, data: bytes, position: int) -> None:
        self._data = data
        self.position = position

    def _unpack(self, fmt: str) -> Any:
        (value,) = struct.unpack_from("<" + fmt, self._data, self.position)
        self.position += struct.calcsize(fmt)
        return value

    def uint32(self) -> int:
        return int(self._unpack("I"))

    def uint64(self) -> int:
        return int(self._unpack("Q"))

    def string(self) -> str:
        length = self.uint64()
        end = self.position + length
        if end > len(self._data):
            raise IndexError("string runs past the end of the data read")
        text = self._data[self.position : end].decode("utf-8")
        self.position = end
        return text

    def value(self, type_id: int) -> Any:
        if type_id == _STRING:
            return self.string()
        if type_id == _ARRAY:
            item_type, count = self.uint32(), self.uint64()
            if item_type in _SCALAR_FORMATS:
                fmt = f"<{count}{_SCALAR_FORMATS[item_type]}"
                items = list(struct.unpack_from(fmt, self._data, self.position))
                self.position += struct.calcsize(fmt)
                return items
            return [self.value(item_type) for _ in range(count)]
        if type_id in _SCALAR_FORMATS:
            return self._unpack(_SCALAR_FORMATS[type_id])
        raise GgufFormatError(f"unknown GGUF value type {type_id}")
