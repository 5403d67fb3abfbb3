"""Capítulo 11 (Vision Transformers): parches, longitud de secuencia y parámetros de
ViT-B/16."""

from __future__ import annotations

from labcode.book.exercises._common import never_raises, number_or_error, report


@never_raises("Ejercicio 11 (parches de ViT-B/16)")
def check_ch11_patches(answer) -> bool:
    """Capítulo 11: parches, longitud de secuencia y parámetros de la proyección de ViT-B/16.

    ``answer`` es un dict con ``num_patches``, ``seq_len`` (con el ``[CLS]``) y
    ``patch_params`` (pesos + sesgos de la proyección de parches) para imágenes
    224x224x3, parches 16x16 y ``d_model = 768``. Nunca lanza excepciones.
    """
    name = "Ejercicio 11 (parches de ViT-B/16)"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta.")
    if not isinstance(answer, dict):
        return report(False, f"{name}: se esperaba un dict con las claves num_patches, seq_len "
                              f"y patch_params; se recibió {type(answer).__name__}.")
    expected = {"num_patches": (224 // 16) ** 2, "seq_len": (224 // 16) ** 2 + 1,
                "patch_params": 16 * 16 * 3 * 768 + 768}
    hints = {
        "num_patches": "hay 224/16 = 14 parches por lado.",
        "seq_len": "no olvides el token [CLS].",
        "patch_params": "cada parche aplanado tiene 16·16·3 valores; suma también los sesgos.",
    }
    for key, value in expected.items():
        if key not in answer:
            return report(False, f"{name}: falta la clave {key!r}.")
        got, error = number_or_error(name, answer, key, int)
        if error:
            return report(False, error)
        if got != value:
            return report(False, f"{name}: {key} no es correcto (se recibió {got}); pista: "
                                  f"{hints[key]}")
    return report(True, f"{name} resuelto: {expected['num_patches']} parches, secuencia de "
                         f"{expected['seq_len']} tokens y "
                         f"{expected['patch_params']:_} ".replace("_", " ")
                         + "parámetros en la proyección de parches.")
