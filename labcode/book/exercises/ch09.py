"""Capítulo 9 (visualización): la cabeza que más atiende al *token* anterior."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import never_raises, number_or_error, report


@never_raises("Ejercicio del capítulo 9 (cabeza de token anterior)")
def check_ch9_previous_token_head(answer, maps) -> bool:
    """Capítulo 9: la cabeza que más atiende al *token* anterior.

    Parameters
    ----------
    answer : tuple of int
        ``(capa, cabeza)``. ``None`` = todavía no hay respuesta.
    maps : labcode.analysis.attention_maps.AttentionMaps
        Los pesos de atención sobre los que se busca.

    Returns
    -------
    bool
        ``True`` si ``answer`` es la cabeza con mayor atención media al *token*
        anterior (``labcode.analysis.attention_maps.head_statistics``). Nunca lanza excepciones.
    """
    from labcode.analysis.attention_maps import AttentionMaps, head_statistics

    name = "Ejercicio del capítulo 9 (cabeza de token anterior)"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(maps, AttentionMaps):
        return report(False, f"{name}: maps debe ser un AttentionMaps "
                              "(labcode.analysis.attention_maps); se recibió "
                              f"{type(maps).__name__}.")
    pair = None
    if isinstance(answer, (tuple, list, np.ndarray)) and len(answer) == 2:
        parts = [number_or_error(name, {"capa": answer[0]}, "capa", int),
                 number_or_error(name, {"cabeza": answer[1]}, "cabeza", int)]
        if not any(error for _, error in parts):
            pair = tuple(value for value, _ in parts)
    if pair is None:
        return report(False, f"{name}: se esperaba una pareja (capa, cabeza) de enteros; se "
                              f"recibió {answer!r}.")
    layer, head = pair
    prev = head_statistics(maps)["previous"]  # (L, H)
    L, H = prev.shape
    if not (0 <= layer < L and 0 <= head < H):
        return report(False, f"{name}: (capa, cabeza) fuera de rango; hay {L} capas y {H} "
                              "cabezas (índices desde 0).")
    best = np.unravel_index(prev.argmax(), prev.shape)
    if (layer, head) != (int(best[0]), int(best[1])):
        return report(False, f"{name}: la cabeza ({layer}, {head}) atiende al token anterior "
                              f"con {prev[layer, head]:.3f} de media, pero hay otra con más. "
                              "Pista: busca el máximo de head_statistics(maps)['previous'].")
    return report(True, f"{name} resuelto: capa {layer}, cabeza {head}, con "
                         f"{prev[layer, head]:.2f} de la atención al token anterior.")
