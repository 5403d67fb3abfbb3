"""El escritor de safetensors de la conversión GGUF: mismos bytes que la biblioteca."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from labcode.hf.pretrained import _save_safetensors
from labcode.utils.errors import LabcodeRuntimeError


def test_writes_the_same_file_as_safetensors_and_releases_each_tensor(tmp_path):
    g = torch.Generator().manual_seed(0)
    tensors = {"b.weight": torch.randn(3, 5, generator=g),
               "a.bias": torch.randn(7, generator=g).to(torch.bfloat16),
               "c.half": torch.randn(2, 2, generator=g).half()}
    reference = {k: v.clone() for k, v in tensors.items()}
    save_file(reference, tmp_path / "ref.safetensors", metadata={"format": "pt"})
    _save_safetensors(tensors, tmp_path / "ours.safetensors")
    assert tensors == {}  # cada tensor se suelta en cuanto está escrito
    ours = load_file(tmp_path / "ours.safetensors")
    assert sorted(ours) == sorted(reference)
    for name, value in reference.items():
        assert ours[name].dtype == value.dtype and torch.equal(ours[name], value), name


def test_float32_file_is_byte_identical_to_the_library(tmp_path):
    # La conversión GGUF solo escribe float32: el mismo fichero, byte a byte, que save_file.
    g = torch.Generator().manual_seed(1)
    tensors = {f"layer.{i}.weight": torch.randn(4, 3, generator=g) for i in (2, 0, 1)}
    save_file({k: v.clone() for k, v in tensors.items()}, tmp_path / "ref.safetensors",
              metadata={"format": "pt"})
    _save_safetensors(tensors, tmp_path / "ours.safetensors")
    ours = (tmp_path / "ours.safetensors").read_bytes()
    assert ours == (tmp_path / "ref.safetensors").read_bytes()


def test_unknown_dtype_is_a_clear_error(tmp_path):
    with pytest.raises(LabcodeRuntimeError, match="tipo"):
        _save_safetensors({"x": torch.zeros(2, dtype=torch.int64)}, tmp_path / "x.safetensors")
