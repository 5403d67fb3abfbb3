"""La tarea de dependencia a larga distancia del capítulo 10 (generada en código).

:class:`LongRangeTask`: secuencias de *tokens* «distractores» con un único
*token* clave a ``distance`` pasos del final; la etiqueta es la clave.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from labcode.utils.checks import int_at_least
from labcode.utils.errors import LabcodeValueError

__all__ = ["LongRangeTask"]


@dataclass(frozen=True)
class LongRangeTask:
    """Recordar el *token* clave que apareció ``distance`` pasos antes del final.

    Cada secuencia tiene ``seq_len`` *tokens*. Los índices ``[0, num_keys)`` son
    *claves* y ``[num_keys, vocab_size)`` son *distractores*. Exactamente una
    posición, ``p = seq_len - 1 - distance``, contiene una clave elegida al
    azar; todas las demás contienen distractores al azar. La etiqueta es la
    clave (una clase en ``[0, num_keys)``), así que el modelo, que lee la
    secuencia hasta el final, debe conservarla durante ``distance`` pasos.

    Parameters
    ----------
    vocab_size:
        Tamaño total del vocabulario (claves + distractores).
    distance:
        Pasos entre la clave y la última posición (``1 <= distance < seq_len``).
    seq_len:
        Longitud de cada secuencia; por defecto ``distance + 1`` (la clave es el
        primer *token*).
    num_keys:
        Número de claves distintas (= número de clases); por defecto la mitad
        del vocabulario. El acierto por azar es ``1 / num_keys``.
    seed:
        Semilla base; :meth:`sample` usa ``seed`` para entrenar y
        :meth:`test_set` una semilla distinta.

    Raises
    ------
    ValueError
        Si ``distance >= seq_len``, si no quedan distractores, etc.
    """

    vocab_size: int = 16
    distance: int = 10
    seq_len: int | None = None
    num_keys: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        vocab = int_at_least("vocab_size", self.vocab_size, 3)
        dist = int_at_least("distance", self.distance, 1)
        if self.seq_len is None:
            object.__setattr__(self, "seq_len", dist + 1)
        seq_len = int_at_least("seq_len", self.seq_len, 2)
        if dist >= seq_len:
            raise LabcodeValueError(
                f"distance debe ser menor que seq_len (la clave tiene que caber en la "
                f"secuencia); se recibió distance={dist} y seq_len={seq_len}."
            )
        if self.num_keys is None:
            object.__setattr__(self, "num_keys", vocab // 2)
        keys = int_at_least("num_keys", self.num_keys, 2)
        if keys >= vocab:
            raise LabcodeValueError(
                f"num_keys debe ser menor que vocab_size (hacen falta distractores); "
                f"se recibió num_keys={keys} y vocab_size={vocab}."
            )
        int_at_least("seed", self.seed, 0)

    @property
    def key_position(self) -> int:
        """Posición ``p = seq_len - 1 - distance`` de la clave."""
        return self.seq_len - 1 - self.distance

    @property
    def chance(self) -> float:
        """Exactitud esperada al adivinar al azar (``1 / num_keys``)."""
        return 1.0 / self.num_keys

    def label(self, idx: torch.Tensor) -> torch.Tensor:
        """La etiqueta de cada secuencia: el *token* de la posición clave.

        Parameters
        ----------
        idx:
            Tensor de enteros ``(B, seq_len)``.

        Returns
        -------
        torch.Tensor
            ``(B,)`` con valores en ``[0, num_keys)``.
        """
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.shape[1] != self.seq_len:
            shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise LabcodeValueError(
                f"se esperaba un tensor (B, {self.seq_len}); se recibió {shape}."
            )
        return idx[:, self.key_position].clone()

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Un lote ``(idx (B, T), y (B,))``.

        Parameters
        ----------
        batch_size:
            Número de secuencias ``B``.
        generator:
            Generador de PyTorch; si es ``None`` se crea uno con ``seed``.
        """
        b = int_at_least("batch_size", batch_size, 1)
        gen = generator if generator is not None else torch.Generator().manual_seed(self.seed)
        idx = torch.randint(self.num_keys, self.vocab_size, (b, self.seq_len), generator=gen)
        keys = torch.randint(0, self.num_keys, (b,), generator=gen)
        idx[:, self.key_position] = keys  # (B, T)
        return idx, self.label(idx)

    def test_set(self, n: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Conjunto de prueba fijo, generado con una semilla distinta de la de entrenamiento."""
        gen = torch.Generator().manual_seed(10_007 + 7919 * self.seed)
        return self.sample(n, gen)
