"""Capítulo 6 (BERT frente a GPT): práctica de la generación voraz con caché KV."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import never_raises, report

#: Datos de la práctica del capítulo 6 (el *prompt* y cuántos tokens generar).
PRACTICE_CH6 = {"prompt": [[3, 14, 15, 9, 2, 6]], "max_new_tokens": 12}


def model_ch6():
    """GPT diminuto y determinista de la práctica del capítulo 6 (vocabulario de 40 tokens).

    Los pesos se agrandan un poco respecto a la inicialización de GPT-2 para que
    la decodificación voraz no se quede repitiendo un único token.
    """
    import torch

    from labcode.models.gpt import GPT, GPTConfig

    g = torch.Generator().manual_seed(111)
    model = GPT(GPTConfig(vocab_size=40, n_positions=32, n_embd=32, n_layer=2, n_head=4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.6)
    return model.eval()


@never_raises("Práctica del capítulo 6")
def check_ch6_kv_cache(answer) -> bool:
    """Comprueba la práctica del capítulo 6: decodificación voraz con caché KV escrita a mano.

    Parameters
    ----------
    answer : torch.Tensor or array_like of int
        Secuencia ``(1, T + n)`` (el *prompt* seguido de los ``n`` tokens
        generados) para ``PRACTICE_CH6`` y :func:`model_ch6`. ``None`` =
        todavía no hay respuesta.

    Returns
    -------
    bool
        ``True`` si coincide con ``model_ch6().generate(...)``. Nunca lanza
        excepciones: explica el error.
    """
    import torch

    name = "Práctica del capítulo 6"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    got, problem = _integer_ids(answer)
    if problem:
        return report(False, f"{name}: {problem}")
    prompt = torch.tensor(PRACTICE_CH6["prompt"])
    n = PRACTICE_CH6["max_new_tokens"]
    expected = model_ch6().generate(prompt, n).numpy()  # (1, T + n)
    T = prompt.shape[1]
    if got.ndim == 1:
        got = got[None]
    if got.shape == (1, n):
        if np.array_equal(got, expected[:, T:]):
            return report(False, f"{name}: casi: son los {n} tokens nuevos, pero la respuesta "
                                  "debe empezar por el prompt (forma (1, T + n)).")
    if got.shape != expected.shape:
        return report(
            False,
            f"{name}: se esperaba la forma {expected.shape} (prompt + {n} tokens); "
            f"se recibió {got.shape}.",
        )
    if not np.array_equal(got[:, :T], expected[:, :T]):
        return report(False, f"{name}: la secuencia debe empezar por el prompt {expected[0, :T]}.")
    if np.array_equal(got, expected):
        return report(
            True,
            f"{name} resuelto: tus {n} tokens coinciden con GPT.generate (caché KV incluida).",
        )
    first = int(np.argmax(got[0] != expected[0]))
    return report(
        False,
        f"{name}: el token {first} (contando el prompt) debería ser {int(expected[0, first])} "
        f"y es {int(got[0, first])}.{_first_mistake_hint(first, T)}",
    )


def _integer_ids(answer) -> tuple[np.ndarray | None, str | None]:
    """La respuesta como array de enteros, o ``(None, problema)``."""
    try:
        got = np.asarray(answer)
        if got.dtype.kind in "iu":
            return got, None
        whole = got.dtype.kind == "f" and np.all(np.isfinite(got))
        if not whole or np.any(got != np.round(got)):
            return None, "se esperaban identificadores de token enteros."
        return got.astype(np.int64), None
    except Exception:  # noqa: BLE001 - la respuesta puede ser cualquier cosa
        return None, "no se pudo convertir la respuesta en un array de enteros."


def _first_mistake_hint(first: int, prompt_len: int) -> str:
    """Pista según el primer token generado que no coincide."""
    if first == prompt_len:
        return (" Ya falla el primer token: ¿tomaste el argmax de los logits de la ÚLTIMA "
                "posición del prompt?")
    if first == prompt_len + 1:
        return (" El primero está bien y el segundo no: ¿pasaste a forward_cached sólo el "
                "token nuevo y la caché devuelta en el paso anterior?")
    return ""
