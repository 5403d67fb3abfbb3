"""Caché de claves y valores (*KV cache*): un solo tipo para GPT, Llama y la decodificación.

Guarda, para cada capa, las claves y los valores ``(B, nkv, P, hs)`` de las ``P``
posiciones ya procesadas. :meth:`KVCache.update` añade las nuevas y devuelve todo lo
guardado (como ``DynamicCache`` de Hugging Face). ``cache[i]`` es la pareja ``(k, v)``
de la capa ``i``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["KVCache"]


class KVCache:
    """Caché de claves y valores, una entrada por capa.

    Con atención de consultas agrupadas (GQA) guarda solo las ``num_key_value_heads``
    cabezas compartidas: ocupa ``n_rep`` veces menos que con atención multi-cabeza.
    """

    def __init__(self, num_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers

    def seq_len(self, layer: int = 0) -> int:
        """Posiciones ya guardadas en la capa ``layer``."""
        k = self.keys[layer]
        return 0 if k is None else k.shape[2]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Añade ``k``, ``v`` ``(B, nkv, T, hs)``; devuelve todo lo guardado ``(B, nkv, S, hs)``."""
        if self.keys[layer] is not None:
            k = torch.cat((self.keys[layer], k), dim=2)
            v = torch.cat((self.values[layer], v), dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def copy(self) -> KVCache:
        """Otra caché con los mismos tensores: actualizarla no cambia esta."""
        new = KVCache(len(self.keys))
        new.keys, new.values = list(self.keys), list(self.values)
        return new

    def crop(self, length: int) -> None:
        """Se queda, en el sitio, con las ``length`` primeras posiciones de cada capa."""
        for i, k in enumerate(self.keys):
            if k is not None and k.shape[2] > length:
                self.keys[i] = k[:, :, :length]
                self.values[i] = self.values[i][:, :, :length]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, layer: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        return self.keys[layer], self.values[layer]

    def __iter__(self) -> Iterator[tuple[torch.Tensor | None, torch.Tensor | None]]:
        return iter(zip(self.keys, self.values, strict=True))
