"""Contar parámetros: un solo nombre, :func:`num_parameters`, como en Hugging Face."""

from __future__ import annotations

from torch import nn

from labcode.utils.errors import LabcodeTypeError

__all__ = ["num_parameters"]


def num_parameters(model: nn.Module, only_trainable: bool = False) -> int:
    """Número de parámetros de ``model`` (los compartidos cuentan una vez).

    Parameters
    ----------
    model : nn.Module
    only_trainable : bool
        Si es ``True``, solo los que tienen ``requires_grad`` (como
        ``PreTrainedModel.num_parameters(only_trainable=True)`` de ``transformers``).
    """
    if not isinstance(model, nn.Module):
        raise LabcodeTypeError(
            f"num_parameters: se esperaba un nn.Module; se recibió {type(model).__name__}."
        )
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not only_trainable)
