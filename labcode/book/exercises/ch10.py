"""Capítulo 10 (Transformers frente a RNN): pasos secuenciales, caminos y coste por capa."""

from __future__ import annotations

from labcode.book.exercises._common import never_raises, number_or_error, report

#: Datos de la práctica del capítulo 10 (longitud y dimensión de una capa).
PRACTICE_CH10 = {"n": 512, "d": 64}


def _expected_ch10(n: int, d: int) -> dict[str, int]:
    return {
        "rnn_sequential": n,
        "rnn_path": n,
        "attention_sequential": 1,
        "attention_path": 1,
        "equal_cost_n": d,
    }


@never_raises("Práctica del capítulo 10")
def check_ch10_complexity(answer, n: int | None = None, d: int | None = None) -> bool:
    """Comprueba la práctica del capítulo 10: pasos secuenciales, caminos y coste igual.

    Parameters
    ----------
    answer : dict
        Claves ``rnn_sequential``, ``rnn_path``, ``attention_sequential``,
        ``attention_path`` (para ``n`` *tokens*) y ``equal_cost_n`` (la longitud
        a la que ``n² d`` y ``n d²`` coinciden). ``None`` = todavía no hay respuesta.
    n, d : int, opcional
        Por defecto, los de ``PRACTICE_CH10``.

    Returns
    -------
    bool
        ``True`` si todo es correcto. Nunca lanza excepciones.
    """
    name = "Práctica del capítulo 10"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    n = PRACTICE_CH10["n"] if n is None else n
    d = PRACTICE_CH10["d"] if d is None else d
    if not isinstance(answer, dict):
        return report(False, f"{name}: se esperaba un dict; se recibió "
                              f"{type(answer).__name__}.")
    expected = _expected_ch10(n, d)
    missing = [k for k in expected if k not in answer]
    if missing:
        return report(False, f"{name}: faltan las claves {missing}.")
    hints = {
        "rnn_sequential": "una RNN debe procesar los n tokens uno detrás de otro",
        "rnn_path": "la información del primer token atraviesa todas las actualizaciones "
                      "del estado hasta el último",
        "attention_sequential": "todas las posiciones se calculan a la vez (no depende de n)",
        "attention_path": "cada salida mira directamente a todas las posiciones",
        "equal_cost_n": "iguala n²·d con n·d² y despeja n",
    }
    for key, value in expected.items():
        got, error = number_or_error(name, answer, key, int)
        if error:
            return report(False, error)
        if got != value:
            return report(False, f"{name}: {key} no es correcto ({got:g}); pista: "
                                  f"{hints[key]}.")
    return report(True, f"{name} resuelto: con n = {n}, la RNN necesita {n} pasos "
                         f"encadenados y la atención 1; el coste por capa coincide en n = {d}.")
