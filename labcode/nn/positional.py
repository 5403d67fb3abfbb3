"""Codificación posicional como módulos de PyTorch (``batch_first``).

:class:`SinusoidalPositionalEncoding` suma la tabla fija de
:func:`labcode.numpy_ref.positional.sinusoidal_table`;
:class:`LearnedPositionalEmbedding` aprende un vector por posición.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from labcode.numpy_ref.positional import check_sequence_shape, sinusoidal_table
from labcode.utils.checks import positive_int
from labcode.utils.errors import LabcodeTypeError, LabcodeValueError

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEmbedding"]


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------


def _check_tensor(x, d_model: int, max_len: int, start: int) -> int:
    if not isinstance(x, torch.Tensor):
        raise LabcodeTypeError(
            f"se esperaba un torch.Tensor (batch, T, d_model) o (T, d_model); "
            f"se recibió {type(x).__name__}."
        )
    if not x.is_floating_point():
        raise LabcodeTypeError(
            f"se esperaba un tensor de coma flotante (embeddings); se recibió dtype {x.dtype}. "
            "¿Pasaste los índices de los tokens en lugar de sus embeddings?"
        )
    if isinstance(start, bool) or not isinstance(start, numbers.Integral) or start < 0:
        raise LabcodeValueError(f"start debe ser un entero >= 0; se recibió {start!r}.")
    return check_sequence_shape(tuple(x.shape), d_model, max_len, int(start))


class SinusoidalPositionalEncoding(nn.Module):
    """Codificación sinusoidal como ``nn.Module`` (tabla fija en un *buffer*).

    ``forward(x)`` devuelve ``dropout(x + pe[start:start + T])``, como en el
    Transformer original (Vaswani et al., 2017). La tabla no tiene
    parámetros entrenables y no se guarda en el ``state_dict`` (se recalcula).

    Parameters
    ----------
    d_model:
        Dimensión de los *embeddings*.
    max_len:
        Longitud máxima de secuencia.
    dropout:
        Probabilidad de *dropout* aplicada tras la suma (0 = sin *dropout*).
    base:
        Base de las longitudes de onda.

    Notes
    -----
    Entradas ``(batch, T, d_model)`` (``batch_first``) o ``(T, d_model)``.
    """

    pe: torch.Tensor

    def __init__(
        self, d_model: int, max_len: int = 5000, dropout: float = 0.0, base: float = 10000.0
    ):
        super().__init__()
        self.d_model = positive_int("d_model", d_model)
        self.max_len = positive_int("max_len", max_len)
        if not 0.0 <= float(dropout) < 1.0:
            raise LabcodeValueError(f"dropout debe estar en [0, 1); se recibió {dropout}.")
        table = sinusoidal_table(self.max_len, self.d_model, base)
        self.register_buffer("pe", torch.from_numpy(table).float(), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``x`` ``(B, T, C)`` o ``(T, C)`` → misma forma, con la posición sumada."""
        t = _check_tensor(x, self.d_model, self.max_len, start)
        return self.dropout(x + self.pe[start : start + t].to(x.dtype))  # (B, T, C)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(nn.Module):
    """Posiciones aprendidas (como BERT y GPT-2): una fila entrenable por posición.

    Parameters
    ----------
    max_len:
        Número de posiciones con *embedding* propio; no hay forma de codificar
        la posición ``max_len`` o posteriores (no extrapola).
    d_model:
        Dimensión de los *embeddings*.
    dropout:
        Probabilidad de *dropout* tras la suma.
    init_std:
        Desviación típica de la inicialización normal (0.02 como en GPT-2).

    Attributes
    ----------
    wpe:
        El ``nn.Embedding(max_len, d_model)`` (nombre tomado de GPT-2/nanoGPT).
    """

    def __init__(
        self, max_len: int, d_model: int, dropout: float = 0.0, init_std: float = 0.02
    ):
        super().__init__()
        self.max_len = positive_int("max_len", max_len)
        self.d_model = positive_int("d_model", d_model)
        if not 0.0 <= float(dropout) < 1.0:
            raise LabcodeValueError(f"dropout debe estar en [0, 1); se recibió {dropout}.")
        self.wpe = nn.Embedding(self.max_len, self.d_model)
        nn.init.normal_(self.wpe.weight, mean=0.0, std=init_std)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``x`` ``(B, T, C)`` o ``(T, C)`` → ``dropout(x + wpe(start..start+T-1))``."""
        t = _check_tensor(x, self.d_model, self.max_len, start)
        pos = torch.arange(start, start + t, device=x.device)  # (T,)
        return self.dropout(x + self.wpe(pos).to(x.dtype))  # (B, T, C)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
