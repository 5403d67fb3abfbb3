"""Capítulo 7 (ajuste fino de BERT): métricas a mano y ejercicio 11.4, el bucle de ajuste
fino escrito por el lector."""

from __future__ import annotations

import numpy as np

from labcode.book.exercises._common import never_raises, number_or_error, numeric_array, report


@never_raises("Práctica del capítulo 7")
def check_ch7_metrics(answer, y_true=None, y_pred=None) -> bool:
    """Práctica del capítulo 7: métricas de clasificación calculadas a mano.

    Parameters
    ----------
    answer:
        Diccionario con ``confusion_matrix`` (2x2, filas = clase verdadera,
        columnas = clase predicha), ``precision``, ``recall`` y ``f1`` de la clase
        positiva (y, opcionalmente, ``accuracy``), calculados por el lector a
        partir de ``y_true`` y ``y_pred``. ``None`` significa que todavía no hay
        respuesta.
    y_true, y_pred:
        Etiquetas verdaderas y predichas (0/1) con las que se calculó la respuesta.

    Returns
    -------
    bool
        ``True`` si todo coincide con :func:`labcode.hf.sentiment.classification_metrics`.
        Nunca lanza excepciones: explica el error.
    """
    name = "Métricas a mano"
    if answer is None:
        return report(False, f"{name}: todavía no hay respuesta (el valor es None).")
    if not isinstance(answer, dict):
        return report(False, f"{name}: se esperaba un diccionario con confusion_matrix, "
                              f"precision, recall y f1; se recibió {type(answer).__name__}.")
    try:
        from labcode.hf.sentiment import classification_metrics

        expected = classification_metrics(list(y_true), list(y_pred))
    except Exception as exc:  # noqa: BLE001 - y_true/y_pred pueden ser cualquier cosa
        return report(False, f"{name}: y_true/y_pred no son válidos ({exc}).")
    missing = [k for k in ("confusion_matrix", "precision", "recall", "f1") if k not in answer]
    if missing:
        return report(False, f"{name}: faltan las claves {missing} en la respuesta.")
    problem = (_confusion_problem(name, answer["confusion_matrix"], expected)
               or _metrics_problem(name, answer, expected))
    if problem:
        return report(False, problem)
    return report(
        True,
        f"{name} resuelto: matriz de confusión, precisión ({expected['precision']:.3f}), "
        f"exhaustividad ({expected['recall']:.3f}) y F1 ({expected['f1']:.3f}) coinciden con "
        "evaluate().",
    )



def _confusion_problem(name: str, raw, expected: dict) -> str | None:
    """Qué falla en la matriz de confusión del lector (``None`` si es correcta)."""
    cm = numeric_array(raw)
    if cm is None:
        return f"{name}: confusion_matrix no se puede convertir en una matriz."
    exp_cm = np.asarray(expected["confusion_matrix"], dtype=float)
    if cm.shape != (2, 2):
        return f"{name}: confusion_matrix debe ser 2x2; se recibió {cm.shape}."
    if np.array_equal(cm, exp_cm):
        return None
    if np.array_equal(cm, exp_cm.T):
        return (f"{name}: la matriz de confusión está traspuesta: las filas deben ser la clase "
                "verdadera y las columnas la predicha.")
    return (f"{name}: la matriz de confusión debería ser {expected['confusion_matrix']}; se "
            f"recibió {cm.astype(int).tolist()}.")


def _metrics_problem(name: str, answer: dict, expected: dict) -> str | None:
    """Qué falla en precisión, exhaustividad, F1 (y exactitud, si está) del lector."""
    keys = ["precision", "recall", "f1"] + (["accuracy"] if "accuracy" in answer else [])
    for key in keys:
        got, error = number_or_error(name, answer, key)
        if error:
            return error
        if abs(got - expected[key]) > 1e-6:
            hint = ""
            if key == "precision" and abs(got - expected["recall"]) < 1e-6:
                hint = " ¿Intercambiaste precisión y exhaustividad (recall)?"
            return f"{name}: {key} debería ser {expected[key]:.4f}; se recibió {got:.4f}.{hint}"
    return None


#: Tamaño del ejercicio 11.4, que cabe en un par de minutos de CPU. ``min_accuracy`` sale
#: de ejecuciones medidas de la solución (ver el capítulo 7), con margen.
EXERCISE_11_4 = {"n_train": 384, "n_val": 200, "batch_size": 16, "max_length": 40,
                  "epochs": 2, "seed": 0, "min_accuracy": 0.70}


def _batches_11_4(tokenizer, sentences, labels, batch_size, max_length) -> list[dict]:
    import torch

    out = []
    for i in range(0, len(sentences), batch_size):
        batch = tokenizer(list(sentences[i:i + batch_size]), padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        batch["labels"] = torch.tensor(list(labels[i:i + batch_size]))
        out.append(dict(batch))
    return out


def data_11_4() -> dict:
    """Modelo y lotes del ejercicio 11.4 (siempre los mismos, con semilla fija).

    Returns
    -------
    dict
        ``model``: el codificador del perfil (all-MiniLM-L6-v2 en ``quick``) con una
        cabeza de clasificación nueva; ``train_batches`` y ``val_batches``:
        listas de diccionarios ``input_ids``, ``attention_mask``... y ``labels``, que se
        pasan tal cual al modelo (``model(**batch).loss``); ``num_steps``: pasos que debe
        dar el bucle (``epochs`` vueltas a los lotes de entrenamiento).
    """
    import torch

    from labcode.hf import pretrained

    cfg = EXERCISE_11_4
    train = pretrained.load_sst2("train", limit=cfg["n_train"])
    val = pretrained.load_sst2("validation", limit=cfg["n_val"])
    spec = pretrained.resolve_bert_model()
    tokenizer = pretrained.load_tokenizer(spec)
    torch.manual_seed(cfg["seed"])
    model = pretrained.load_bert_for_classification(spec, num_labels=2)
    args = (cfg["batch_size"], cfg["max_length"])
    train_batches = _batches_11_4(tokenizer, train["sentence"], train["label"], *args)
    return {
        "model": model,
        "train_batches": train_batches,
        "val_batches": _batches_11_4(tokenizer, val["sentence"], val["label"], *args),
        "num_steps": cfg["epochs"] * len(train_batches),
    }


def accuracy_11_4(model, batches) -> float:
    """Exactitud de referencia: ``argmax`` de los logits frente a ``labels``, sin gradientes."""
    import torch

    model.eval()
    hits = total = 0
    with torch.no_grad():
        for batch in batches:
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            pred = model(**inputs).logits.argmax(dim=-1)
            hits += int((pred == batch["labels"]).sum())
            total += len(batch["labels"])
    return hits / total


def _run_student_11_4(train_fn, eval_fn, data) -> tuple[float | None, str | None, bool]:
    """Ejecuta el bucle y la evaluación del lector: ``(exactitud, problema, pesos cambiados)``."""
    import torch

    model = data["model"]
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(EXERCISE_11_4["seed"])  # el mismo dropout en cada comprobación
    try:
        train_fn(model, data["train_batches"], data["num_steps"])
    except NotImplementedError:
        return None, "entrenar todavía no está implementado (lanza NotImplementedError).", False
    except Exception as exc:  # noqa: BLE001 - el error es del código del lector
        return None, f"entrenar lanzó {type(exc).__name__}: {exc}", False
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(),
                                                                strict=True))
    try:
        got = eval_fn(model, data["val_batches"])
        got = float(got)
    except NotImplementedError:
        return None, "evaluar todavía no está implementado (lanza NotImplementedError).", changed
    except Exception as exc:  # noqa: BLE001
        return None, f"evaluar lanzó o devolvió algo no numérico ({type(exc).__name__}: {exc}).", \
            changed
    return got, None, changed


@never_raises("Ejercicio 11.4")
def check_11_4(train_fn, eval_fn, data: dict | None = None) -> bool:
    """Ejercicio 11.4: ¿aprende tu bucle de ajuste fino?

    Llama a ``train_fn(model, train_batches, num_steps)`` (que debe ajustar
    ``model`` en el sitio) y a ``eval_fn(model, val_batches)`` (que debe
    devolver la exactitud entre 0 y 1) con los datos de :func:`data_11_4`, y
    comprueba dos cosas: que tu evaluación coincide con :func:`accuracy_11_4` y
    que la exactitud de validación alcanza ``EXERCISE_11_4["min_accuracy"]``.

    Parameters
    ----------
    train_fn, eval_fn : callable
        Las funciones del lector.
    data : dict, optional
        Lo que devuelve :func:`data_11_4` (por defecto se carga de nuevo: modelo
        recién creado con la misma semilla).

    Returns
    -------
    bool
        ``True`` si aprende y la evaluación es correcta. Nunca lanza excepciones.
    """
    name = "Ejercicio 11.4"
    if train_fn is None or eval_fn is None:
        return report(False, f"{name}: todavía no hay respuesta (entrenar o evaluar es None).")
    if not (callable(train_fn) and callable(eval_fn)):
        return report(False, f"{name}: entrenar y evaluar deben ser funciones.")
    data = data_11_4() if data is None else data
    got, problem, changed = _run_student_11_4(train_fn, eval_fn, data)
    if problem is not None:
        return report(False, f"{name}: {problem}")
    if not changed:
        return report(False, f"{name}: los pesos del modelo no cambiaron: ¿llamaste a "
                              "loss.backward() y optimizer.step() en cada paso?")
    acc = accuracy_11_4(data["model"], data["val_batches"])
    minimum = EXERCISE_11_4["min_accuracy"]
    if abs(got - acc) > 1e-6:
        hint = " (¿en porcentaje? se pide una proporción entre 0 y 1)" if got > 1 else ""
        return report(False, f"{name}: tu evaluar devuelve {got:.4f}, pero la exactitud del "
                              f"modelo en esos lotes es {acc:.4f}{hint}. Revisa: model.eval(), "
                              "argmax sobre el último eje de los logits y dividir por el número "
                              "de frases, no de lotes.")
    if acc < minimum:
        return report(False, f"{name}: tu bucle entrena, pero la exactitud de validación es "
                              f"{acc:.3f} (< {minimum}). Pistas: optimizer.zero_grad() en cada "
                              "paso, model.train() antes del bucle, lr entre 2e-5 y 1e-4 y "
                              "scheduler.step() tras optimizer.step().")
    return report(True, f"{name} resuelto: tu bucle aprende (exactitud de validación {acc:.3f} "
                         f"≥ {minimum} tras {data['num_steps']} pasos) y tu evaluación coincide "
                         "con la de referencia.")
