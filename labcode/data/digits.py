"""Los dígitos manuscritos 8x8 de scikit-learn (incluidos; sin descargas), para el capítulo 11.

- :class:`DigitsData`: entrenamiento y prueba como tensores de PyTorch.
- :func:`load_digits_dataset`: separación estratificada y normalización.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from labcode.utils import checks
from labcode.utils.errors import LabcodeValueError

__all__ = ["DigitsData", "load_digits_dataset"]


@dataclass
class DigitsData:
    """Dígitos 8x8 separados en entrenamiento y prueba (tensores de PyTorch).

    ``x_*`` son ``(n, 1, 8, 8)`` float32 normalizados; ``y_*`` son ``(n,)`` int64;
    ``raw_*`` son las imágenes originales (0..16) para dibujarlas.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_train: np.ndarray
    raw_test: np.ndarray
    mean: float
    std: float

    @property
    def num_classes(self) -> int:
        return 10


def load_digits_dataset(
    test_size: float = 0.25, seed: int = 0, n_samples: int | None = None
) -> DigitsData:
    """Carga los dígitos de ``sklearn.datasets.load_digits`` (incluidos; sin descargas).

    1797 imágenes 8x8 en escala de grises (valores 0..16) de 10 clases. Se separan
    de forma estratificada y se normalizan con la media y la desviación típica
    (escalares) del conjunto de entrenamiento.

    Parameters
    ----------
    test_size : float
        Fracción para prueba, en ``(0, 1)``.
    seed : int
        Semilla de la separación.
    n_samples : int, opcional
        Si se da, usa sólo una submuestra estratificada de ese tamaño (pruebas rápidas).

    Returns
    -------
    DigitsData

    Raises
    ------
    ValueError
        Si ``test_size`` o ``n_samples`` no son válidos.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not isinstance(test_size, (float, int)) or not 0.0 < float(test_size) < 1.0:
        raise LabcodeValueError(f"test_size debe estar en (0, 1); se recibió {test_size!r}.")
    digits = load_digits()
    images, labels = digits.images.astype(np.float32), digits.target.astype(np.int64)
    if n_samples is not None:
        n = checks.positive_int("n_samples", n_samples)
        if not 20 <= n <= len(labels):
            raise LabcodeValueError(
                f"n_samples debe estar entre 20 y {len(labels)}; se recibió {n}."
            )
        if n < len(labels):
            images, _, labels, _ = train_test_split(
                images, labels, train_size=n, stratify=labels, random_state=seed
            )
    raw_tr, raw_te, y_tr, y_te = train_test_split(
        images, labels, test_size=float(test_size), stratify=labels, random_state=seed
    )
    mean, std = float(raw_tr.mean()), float(raw_tr.std())

    def to_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((a - mean) / std).float().unsqueeze(1)  # (n, 1, 8, 8)

    return DigitsData(
        x_train=to_tensor(raw_tr), y_train=torch.from_numpy(y_tr),
        x_test=to_tensor(raw_te), y_test=torch.from_numpy(y_te),
        raw_train=raw_tr, raw_test=raw_te, mean=mean, std=std,
    )
