"""Capítulo 5 (arquitectura): práctica de la máscara de autoatención del decodificador."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import never_raises, report

#: Datos de la práctica del capítulo 5 (dos secuencias con relleno a la derecha).
PRACTICE_CH5 = {
    "ids": np.array([[5, 7, 9, 0, 0], [4, 6, 8, 3, 0]]),
    "pad_id": 0,
}


def _masks_ch5() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    ids, pad = PRACTICE_CH5["ids"], PRACTICE_CH5["pad_id"]
    T = ids.shape[1]
    causal = np.tril(np.ones((T, T), dtype=bool))  # (T, T)
    keys = (ids != pad)[:, None, :]  # (B, 1, T): la clave es real
    queries = (ids != pad)[:, :, None]  # (B, T, 1)
    correct = causal[None] & keys  # (B, T, T)
    mistakes = {
        "es la convención contraria (True = ignorar, como en torch.nn.MultiheadAttention); "
        "aquí True = puede atender": ~correct,
        "sólo es la máscara causal: falta quitar las claves de relleno": np.broadcast_to(
            causal, correct.shape
        ),
        "sólo es la máscara de relleno: falta la parte causal (no mirar el futuro)": (
            np.broadcast_to(keys, correct.shape)
        ),
        "la parte causal está traspuesta (triangular superior): la consulta i debe ver las "
        "claves j <= i": np.triu(np.ones((T, T), dtype=bool))[None] & keys,
        # Con relleno a la derecha, «causal y consultas» es lo mismo que «causal, claves y
        # consultas»: el error típico es enmascarar las consultas además de las claves.
        "enmascaraste las consultas de relleno además de las claves: las filas de relleno se "
        "quedan sin ninguna clave permitida (todo False) y la softmax de una fila así divide 0 "
        "entre 0 y da NaN; basta con quitar las claves de relleno (las columnas)": (
            causal[None] & keys & queries
        ),
    }
    return correct, mistakes


@never_raises("Práctica del capítulo 5")
def check_ch5_mask(answer) -> bool:
    """Comprueba la práctica del capítulo 5: la máscara de autoatención del decoder.

    Parameters
    ----------
    answer : array_like or torch.Tensor of bool
        Máscara para ``PRACTICE_CH5["ids"]`` con ``True`` = puede atender: forma
        ``(B, T, T)`` o ``(B, 1, T, T)``. ``None`` = todavía no hay respuesta.

    Returns
    -------
    bool
        ``True`` si es correcta. Nunca lanza excepciones: explica el error.
    """
    name = "Práctica del capítulo 5"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    try:
        if hasattr(answer, "detach"):
            answer = answer.detach().cpu().numpy()
        got = np.asarray(answer)
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return report(False, f"{name}: no se pudo convertir la respuesta en un array.")
    correct, mistakes = _masks_ch5()
    B, T, _ = correct.shape
    if got.ndim == 4 and got.shape[1] == 1:
        got = got[:, 0]
    if got.shape != correct.shape:
        return report(
            False,
            f"{name}: se esperaba una máscara (B, T, T) = {correct.shape} o (B, 1, T, T); "
            f"se recibió la forma {np.asarray(answer).shape}.",
        )
    if got.dtype != bool:
        if not np.isin(got, (0, 1)).all():
            return report(
                False, f"{name}: la máscara debe ser booleana (o de ceros y unos); no lo es."
            )
        got = got.astype(bool)
    if np.array_equal(got, correct):
        return report(
            True,
            f"{name}: correcto: causal y sin claves de relleno ({int(correct.sum())} de "
            f"{correct.size} pares consulta-clave permitidos).",
        )
    for message, wrong in mistakes.items():
        if np.array_equal(got, wrong):
            return report(False, f"{name}: casi: {message}.")
    b, i, j = (int(v) for v in np.argwhere(got != correct)[0])
    return report(
        False,
        f"{name}: la primera celda incorrecta es [b={b}, consulta={i}, clave={j}]: se esperaba "
        f"{bool(correct[b, i, j])} y se recibió {bool(got[b, i, j])}.",
    )
