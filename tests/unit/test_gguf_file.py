from pathlib import Path

import pytest

from shared.models import locate_smollm2_gguf
from shared.models.gguf_file import GgufFile, GgufFormatError


@pytest.fixture(scope="module")
def smollm2() -> GgufFile:
    return GgufFile.read(locate_smollm2_gguf())


def test_reads_the_model_hyper_parameters(smollm2: GgufFile) -> None:
    meta = smollm2.metadata

    assert meta["general.architecture"] == "llama"
    assert (meta["llama.block_count"], meta["llama.embedding_length"]) == (30, 576)


def test_reads_the_whole_vocabulary_and_merges(smollm2: GgufFile) -> None:
    assert len(smollm2.metadata["tokenizer.ggml.tokens"]) == 49152
    assert len(smollm2.metadata["tokenizer.ggml.merges"]) == 48900


def test_lists_every_tensor_with_its_shape_in_ggml_order(smollm2: GgufFile) -> None:
    assert len(smollm2.tensors) == 272
    assert smollm2.tensors["token_embd.weight"].shape == (576, 49152)
    assert smollm2.tensors["blk.0.ffn_down.weight"].shape == (1536, 576)


def test_tensor_offsets_are_aligned_and_inside_the_file(smollm2: GgufFile) -> None:
    size = smollm2.path.stat().st_size
    offsets = [tensor.offset for tensor in smollm2.tensors.values()]

    assert all(offset % 32 == 0 for offset in offsets), "tensor data must be 32-byte aligned"
    assert max(offsets) < size


def test_a_file_that_is_not_gguf_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04" + bytes(100))

    with pytest.raises(GgufFormatError, match=r"model\.bin: not a GGUF file"):
        GgufFile.read(path)


def test_a_truncated_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(locate_smollm2_gguf().read_bytes()[:5000])

    with pytest.raises(GgufFormatError, match="truncated or corrupt"):
        GgufFile.read(path)
