"""Ajuste fino (*fine-tuning*) de un codificador BERT para análisis de sentimiento.

:class:`BERTSentimentClassifier` envuelve un ``AutoModelForSequenceClassification``
(el codificador preentrenado del perfil activo más una cabeza de clasificación
nueva) con una interfaz de estilo scikit-learn: ``fit``, ``predict``,
``predict_proba``, ``evaluate``, ``save`` y ``load``.

El entrenamiento usa AdamW, calentamiento lineal (*warmup*) seguido de decaimiento
lineal, recorte del gradiente, relleno dinámico por lote y precisión mixta en GPU.
Si hay un grupo de procesos de ``torch.distributed`` inicializado (``torchrun``),
``fit`` reparte los datos con ``DistributedSampler`` y envuelve el modelo en
``DistributedDataParallel``.

Línea de órdenes::

    python -m labcode finetune-bert --train-limit 4000 --epochs 1 --out modelo/
    torchrun --nproc_per_node 2 -m labcode finetune-bert --train-limit 64 --eval-limit 32
"""

from __future__ import annotations

import argparse
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labcode.hf import pretrained
from labcode.nn.params import num_parameters
from labcode.train import TrainConfig, train
from labcode.utils import checks
from labcode.utils.checks import positive_int
from labcode.utils.errors import (
    CheckpointError,
    LabcodeFileNotFoundError,
    LabcodeRuntimeError,
    LabcodeTypeError,
    LabcodeValueError,
)
from labcode.utils.runtime import quiet_transformers

__all__ = [
    "BERTSentimentClassifier",
    "TrainingHistory",
    "UntrainedHeadWarning",
    "add_cli",
    "classification_metrics",
    "default_lr",
    "run_cli",
]

#: Fichero con los metadatos de labcode dentro de una carpeta guardada.
META_FILE = "labcode_sentiment.json"
_KIND = "BERTSentimentClassifier"
_ID2LABEL = {0: "negative", 1: "positive"}


# --- Validación de entradas --------------------------------------------------------


def _check_texts(texts: Any, what: str = "texts") -> list[str]:
    """Lista de cadenas no vacía; ``TypeError``/``ValueError`` claros si no."""
    if isinstance(texts, str):
        raise LabcodeTypeError(
            f"{what} debe ser una lista de cadenas, no una sola cadena; usa [{texts[:30]!r}]."
        )
    try:
        items = list(texts)
    except TypeError:
        raise LabcodeTypeError(
            f"{what} debe ser una lista de cadenas; se recibió {type(texts).__name__}."
        ) from None
    if not items:
        raise LabcodeValueError(f"{what} está vacía: se necesita al menos un texto.")
    for i, t in enumerate(items):
        checks.text(f"{what}[{i}]", t)
    return items


def _check_labels(labels: Any, n: int, what: str = "labels") -> np.ndarray:
    """Etiquetas 0/1 con la misma longitud que los textos."""
    if isinstance(labels, str):
        raise LabcodeTypeError(f"{what} debe ser una lista de enteros 0/1; se recibió una cadena.")
    try:
        items = list(labels.tolist() if hasattr(labels, "tolist") else labels)
    except TypeError:
        raise LabcodeTypeError(
            f"{what} debe ser una lista de enteros 0/1; se recibió {type(labels).__name__}."
        ) from None
    if len(items) != n:
        raise LabcodeValueError(
            f"Hay {n} textos pero {len(items)} etiquetas ({what}): deben tener la misma longitud."
        )
    for i, y in enumerate(items):
        ok = isinstance(y, (int, np.integer)) and not isinstance(y, bool) and y in (0, 1)
        if not ok:
            raise LabcodeValueError(
                f"{what}[{i}] debe ser 0 (negativa) o 1 (positiva); se recibió {y!r}."
            )
    return np.asarray(items, dtype=np.int64)


class UntrainedHeadWarning(UserWarning):
    """Se predice con una cabeza de clasificación que aún no se ha entrenado."""


# --- Métricas -----------------------------------------------------------------------


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, Any]:
    """Exactitud, precisión, exhaustividad y F1 (clase positiva) y matriz de confusión.

    Parameters
    ----------
    y_true, y_pred:
        Etiquetas verdaderas y predichas (0/1), de la misma longitud.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1`` (de la clase positiva,
        0.0 si no están definidas), ``confusion_matrix`` (lista 2x2; filas =
        clase verdadera, columnas = clase predicha) y ``n``.

    Raises
    ------
    ValueError
        Si las longitudes no coinciden, están vacías o hay etiquetas fuera de {0, 1}.
    """
    try:
        n = len(y_true)
    except TypeError:
        raise LabcodeTypeError(
            "classification_metrics: y_true debe ser una lista de enteros 0/1; se recibió "
            f"{type(y_true).__name__}."
        ) from None
    if n == 0:
        raise LabcodeValueError("classification_metrics: no hay ejemplos (listas vacías).")
    t = _check_labels(y_true, n, "y_true")
    p = _check_labels(y_pred, n, "y_pred")
    cm = np.zeros((2, 2), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    tp, fp, fn = int(cm[1, 1]), int(cm[0, 1]), int(cm[1, 0])
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": float(np.trace(cm) / n),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "confusion_matrix": cm.tolist(),
        "n": int(n),
    }


# --- Historial ------------------------------------------------------------------------


@dataclass
class TrainingHistory:
    """Lo que pasó durante ``fit``.

    Attributes
    ----------
    step, loss, lr:
        Pérdida (entropía cruzada del lote) y tasa de aprendizaje en cada paso.
    eval_step, eval_accuracy:
        Exactitud sobre el conjunto de evaluación cada ``eval_every`` pasos
        (vacías si no se pasó conjunto de evaluación).
    train_seconds:
        Tiempo de pared del bucle de entrenamiento (sin las evaluaciones intermedias).
    """

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_accuracy: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    n_train: int = 0
    epochs: int = 0
    batch_size: int = 0
    world_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        """El historial como diccionario (serializable en JSON)."""
        return asdict(self)


def default_lr(n_params: int) -> float:
    """Tasa de aprendizaje por defecto según el tamaño del modelo.

    Los modelos pequeños (all-MiniLM-L6-v2, 23 M de parámetros) toleran y
    agradecen una tasa mayor (``1e-4``) que BERT-base (110 M, ``3e-5``, dentro del
    rango 2e-5..5e-5 que recomienda el artículo de BERT).
    """
    return 1e-4 if n_params < 50_000_000 else 3e-5


# --- Clasificador ------------------------------------------------------------------------


def _dist_info() -> tuple[bool, int, int]:
    """(activo, rango, tamaño del mundo) de ``torch.distributed``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return True, dist.get_rank(), dist.get_world_size()
    return False, 0, 1


class BERTSentimentClassifier:
    """Clasificador binario de sentimiento (0 negativo, 1 positivo) sobre BERT.

    Parameters
    ----------
    model_name:
        ``None`` usa el codificador del perfil (:func:`labcode.hf.pretrained.resolve_bert_model`:
        all-MiniLM-L6-v2 en ``quick``, ``bert-base-uncased`` en ``full``;
        ``LABCODE_BERT_MODEL`` tiene prioridad). También admite un identificador
        del Hub o una carpeta local (por ejemplo, una guardada con :meth:`save`).
    max_length:
        Longitud máxima en tokens; los textos más largos se truncan.
    device:
        ``None`` elige el mejor (:func:`labcode.hf.pretrained.pick_device`).
    seed:
        Semilla de la cabeza de clasificación nueva y del barajado.

    Notes
    -----
    Una cadena vacía es una entrada válida: se tokeniza como ``[CLS] [SEP]`` y
    se clasifica como cualquier otro texto (la predicción no significa nada).

    Raises
    ------
    labcode.hf.pretrained.ModelNotAvailableError
        Si el modelo no está disponible.
    ValueError
        Si ``max_length`` no es un entero >= 2.
    """

    def __init__(
        self,
        model_name: str | None = None,
        max_length: int = 128,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise LabcodeValueError(
                f"max_length debe ser un entero >= 2; se recibió {max_length!r}."
            )
        if model_name is None:
            self.spec = pretrained.resolve_bert_model()
        elif isinstance(model_name, pretrained.ModelSpec):
            self.spec = model_name
        elif isinstance(model_name, (str, os.PathLike)):
            value = os.fspath(model_name)
            if Path(value).is_dir() and not pretrained.looks_like_path(value):
                value = "./" + value
            self.spec = pretrained.spec_from_override(value, "encoder")
        else:
            raise LabcodeTypeError(
                f"model_name debe ser None, una cadena o una ruta; se recibió "
                f"{type(model_name).__name__}."
            )
        self.seed = checks.seed(seed)
        self.device = pretrained.pick_device() if device is None else checks.device(device)
        self.tokenizer = pretrained.load_tokenizer(self.spec)
        limit = getattr(self.tokenizer, "model_max_length", None) or max_length
        if isinstance(limit, int) and limit < 10**6 and max_length > limit:
            raise LabcodeValueError(
                f"max_length={max_length} supera el límite del modelo ({limit} tokens)."
            )
        self.max_length = max_length
        torch.manual_seed(self.seed)  # la cabeza nueva se inicializa al cargar
        self.model = pretrained.load_bert_for_classification(self.spec, num_labels=2)
        self.model.config.id2label = dict(_ID2LABEL)
        self.model.config.label2id = {v: k for k, v in _ID2LABEL.items()}
        self.model.to(self.device)
        self.history_: TrainingHistory | None = None
        #: ``True`` tras :meth:`fit` o al cargar un clasificador ya entrenado.
        self.trained_ = False
        if self.spec.source == "local":
            meta = pretrained.read_labcode_meta(Path(self.spec.path_or_id), _KIND)
            self.trained_ = bool(meta and meta.get("trained"))
        self._warned_untrained = False

    # -- utilidades ---------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"BERTSentimentClassifier(model={self.spec.name!r}, max_length={self.max_length}, "
            f"device={self.device.type!r})"
        )

    def num_parameters(self) -> int:
        """Número de parámetros del modelo completo (codificador + cabeza)."""
        return num_parameters(self.model)

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokeniza un lote con relleno dinámico (hasta el más largo) y truncado.

        Returns
        -------
        dict
            ``input_ids``, ``attention_mask`` (y ``token_type_ids`` si el modelo
            los usa), tensores ``(B, T)`` con ``T <= max_length``, en ``self.device``.
        """
        texts = _check_texts(texts)
        batch = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in batch.items()}

    # -- inferencia -----------------------------------------------------------------

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilidades ``(n, 2)`` de las clases negativa y positiva.

        Los textos se ordenan por longitud para formar lotes con poco relleno y
        el resultado se devuelve en el orden original.

        Raises
        ------
        TypeError
            Si ``texts`` no es una lista de cadenas.
        ValueError
            Si ``texts`` está vacía o ``batch_size < 1``.
        """
        texts = _check_texts(texts)
        batch_size = positive_int("batch_size", batch_size)
        if not self.trained_ and not self._warned_untrained:
            warnings.warn(
                "La cabeza de clasificación todavía no se ha entrenado (no se llamó a fit ni se "
                "cargó un clasificador ajustado): las predicciones son las de una cabeza "
                "aleatoria.", UntrainedHeadWarning, stacklevel=3)
            self._warned_untrained = True
        self.model.eval()
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), 2), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = self.encode([texts[i] for i in idx])
            with pretrained.autocast_context(self.device):
                logits = self.model(**batch).logits  # (B, 2)
            out[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[int]:
        """Clase predicha de cada texto (0 negativa, 1 positiva)."""
        return self.predict_proba(texts, batch_size).argmax(axis=1).astype(int).tolist()

    def evaluate(
        self, texts: Sequence[str], labels: Sequence[int], batch_size: int = 64
    ) -> dict[str, Any]:
        """Métricas sobre un conjunto etiquetado.

        Returns
        -------
        dict
            Las claves de :func:`classification_metrics` (``accuracy``, ``f1``,
            ``precision``, ``recall``, ``confusion_matrix`` con filas = clase
            verdadera, ``n``).

        Raises
        ------
        TypeError, ValueError
            Si los textos o las etiquetas no son válidos o sus longitudes difieren.
        """
        texts = _check_texts(texts)
        y = _check_labels(labels, len(texts))
        return classification_metrics(y.tolist(), self.predict(texts, batch_size))

    # -- entrenamiento ---------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        epochs: int = 1,
        batch_size: int = 16,
        lr: float | None = None,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        eval_texts: Sequence[str] | None = None,
        eval_labels: Sequence[int] | None = None,
        eval_every: int | None = None,
        max_grad_norm: float = 1.0,
        progress: bool = True,
    ) -> TrainingHistory:
        """Ajusta todo el modelo (codificador y cabeza) con entropía cruzada.

        Con el bucle común :func:`labcode.train.train`: AdamW (sin *weight decay* en
        sesgos ni LayerNorm), calentamiento lineal durante ``warmup_ratio`` de los
        pasos y decaimiento lineal a 0, recorte del gradiente a ``max_grad_norm`` y
        precisión mixta en GPU. ``batch_size`` es por proceso con ``torchrun``;
        ``lr=None`` usa :func:`default_lr`. Con ``eval_texts`` y ``eval_labels`` mide
        la exactitud cada ``eval_every`` pasos (``None``: unas 5 veces). Devuelve el
        :class:`TrainingHistory`, que también queda en ``self.history_``. Con entradas
        no válidas (ver :meth:`evaluate`) o hiperparámetros fuera de rango lanza
        ``TypeError`` o ``ValueError``.
        """
        texts = _check_texts(texts)
        y = _check_labels(labels, len(texts))
        _check_fit_args(epochs, batch_size, warmup_ratio, eval_texts, eval_labels)
        lr = default_lr(self.num_parameters()) if lr is None else checks.positive_float("lr", lr)
        distributed, rank, world = _dist_info()
        sampler, gen = self._sampler(len(texts), distributed, rank, world)
        steps = math.ceil(len(sampler) / batch_size) * epochs
        eval_every = max(1, math.ceil(steps / 5)) if eval_every is None else eval_every
        cfg = TrainConfig(
            steps=steps, lr=lr, warmup=int(round(warmup_ratio * steps)), schedule="linear",
            weight_decay=checks.finite_float("weight_decay", weight_decay, low=0.0),
            grad_clip=checks.positive_float("max_grad_norm", max_grad_norm),
            amp_dtype=pretrained.amp_dtype(self.device),
            eval_every=0 if eval_texts is None else positive_int("eval_every", eval_every),
            desc=f"fine-tuning {self.spec.name}", show_progress=bool(progress) and rank == 0,
        )
        hist = TrainingHistory(n_train=len(texts), epochs=epochs, batch_size=batch_size,
                               world_size=world)

        def evaluate(step: int) -> None:
            if rank == 0:
                hist.eval_step.append(step)
                with warnings.catch_warnings():  # la cabeza ya se está entrenando
                    warnings.simplefilter("ignore", UntrainedHeadWarning)
                    accuracy = self.evaluate(eval_texts, eval_labels)["accuracy"]
                hist.eval_accuracy.append(accuracy)

        batches = self._batches(texts, y, sampler, gen, batch_size, epochs)
        res = train(self._ddp() if distributed else self.model, batches, _classification_loss,
                    cfg, evaluate=evaluate)
        hist.step, hist.loss, hist.lr = list(range(1, res.steps + 1)), res.losses, res.lrs
        hist.train_seconds = res.seconds
        self.model.eval()
        self.history_, self.trained_ = hist, True
        return hist

    def _sampler(self, n: int, distributed: bool, rank: int, world: int):
        """El muestreador barajado (repartido entre procesos con DDP) y el generador."""
        from torch.utils.data import DistributedSampler, RandomSampler

        gen = torch.Generator().manual_seed(self.seed)
        if distributed:
            return DistributedSampler(
                range(n), num_replicas=world, rank=rank, shuffle=True, seed=self.seed
            ), gen
        return RandomSampler(range(n), generator=gen), gen

    def _batches(self, texts, y, sampler, gen, batch_size: int, epochs: int):
        """Lotes ``(entradas tokenizadas, etiquetas)`` de ``epochs`` épocas."""
        lengths = np.array([len(t) for t in texts])
        for epoch in range(epochs):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            for idx in _length_bucketed_batches(list(sampler), lengths, batch_size, gen):
                batch = self.encode([texts[i] for i in idx])
                yield batch, torch.as_tensor(y[idx], device=self.device)

    def _ddp(self) -> torch.nn.Module:
        """El modelo envuelto en ``DistributedDataParallel``."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(self.model, device_ids=ids)

    # -- persistencia -----------------------------------------------------------------

    def save(self, path: str | os.PathLike, extra_files: dict[str, Any] | None = None) -> Path:
        """Guarda modelo (safetensors), tokenizador y metadatos de labcode en ``path``.

        El guardado es atómico (:func:`labcode.utils.checks.atomic_replace_dir`): todo se
        escribe en una carpeta temporal junto a ``path`` que sólo al final ocupa su
        sitio. Si se interrumpe, queda el modelo anterior intacto (o ninguna carpeta).

        Parameters
        ----------
        path:
            Carpeta de destino (se crea o se reemplaza entera).
        extra_files:
            Ficheros JSON adicionales ``{nombre: objeto}`` que se guardan en la
            misma operación atómica (por ejemplo, las cifras de una ejecución).

        Returns
        -------
        pathlib.Path
            La carpeta.
        """
        folder = Path(os.fspath(path)).expanduser()
        meta = {
            "labcode": _KIND,
            "base_model": self.spec.name,
            "max_length": self.max_length,
            "seed": self.seed,
            "labels": _ID2LABEL,
            "history": None if self.history_ is None else self.history_.to_dict(),
        }

        def build(tmp: Path) -> None:
            with quiet_transformers():  # sin barras de «Writing model shards»
                self.model.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)
            if not any(tmp.glob("*.safetensors")):  # pragma: no cover - defensa
                raise LabcodeRuntimeError(
                    f"save_pretrained no escribió pesos safetensors en {tmp}."
                )
            (tmp / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            for name, obj in (extra_files or {}).items():
                (tmp / name).write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
            # El último fichero: su presencia dice que la carpeta está completa.
            pretrained.write_labcode_meta(tmp, _KIND, trained=bool(self.trained_))

        return checks.atomic_replace_dir(folder, build)

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: torch.device | str | None = None
    ) -> BERTSentimentClassifier:
        """Carga un clasificador guardado con :meth:`save`.

        Comprueba la carpeta antes de cargar: metadatos de labcode con la versión
        de formato esperada, ``config.json`` de un codificador, tokenizador y
        pesos safetensors completos (ni pesos de menos ni de más).

        Raises
        ------
        FileNotFoundError
            Si ``path`` no existe o no es una carpeta guardada con :meth:`save`.
        labcode.utils.errors.CheckpointError
            Si la carpeta está incompleta o dañada (el mensaje dice qué falta).
        """
        folder = Path(os.fspath(path)).expanduser().resolve()
        meta_file = folder / META_FILE
        if not folder.is_dir():
            raise LabcodeFileNotFoundError(f"No existe la carpeta {folder}.")
        if not meta_file.is_file() or pretrained.read_labcode_meta(folder, _KIND) is None:
            raise LabcodeFileNotFoundError(
                f"{folder} no es un clasificador guardado con BERTSentimentClassifier.save "
                f"(falta {META_FILE} o {pretrained.LABCODE_META}; si se guardó con una versión "
                "anterior de labcode o el guardado se interrumpió, vuelve a guardarlo)."
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            max_length, seed = int(meta["max_length"]), int(meta.get("seed", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(
                f"{meta_file} está dañado ({type(exc).__name__}: {exc})."
            ) from None
        clf = cls(model_name=str(folder), max_length=max_length, device=device, seed=seed)
        if meta.get("history"):
            clf.history_ = TrainingHistory(**meta["history"])
        return clf


def _check_fit_args(epochs, batch_size, warmup_ratio, eval_texts, eval_labels) -> None:
    """Valida los argumentos de :meth:`BERTSentimentClassifier.fit`."""
    positive_int("epochs", epochs)
    positive_int("batch_size", batch_size)
    warmup_ratio = checks.finite_float("warmup_ratio", warmup_ratio)
    if not 0.0 <= warmup_ratio < 1.0:
        raise LabcodeValueError(
            f"warmup_ratio debe estar en [0, 1); se recibió {warmup_ratio!r}."
        )
    if (eval_texts is None) != (eval_labels is None):
        raise LabcodeValueError("eval_texts y eval_labels deben darse juntos (o ninguno).")
    if eval_texts is not None:
        eval_texts = _check_texts(eval_texts, "eval_texts")
        _check_labels(eval_labels, len(eval_texts), "eval_labels")


def _classification_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """Entropía cruzada (en float32) de un lote ``(entradas, etiquetas)``."""
    inputs, targets = batch
    logits = model(**inputs).logits  # (B, 2)
    return torch.nn.functional.cross_entropy(logits.float(), targets)


def _length_bucketed_batches(
    order: list[int], lengths: np.ndarray, batch_size: int, gen: torch.Generator,
    bucket_batches: int = 50,
) -> list[list[int]]:
    """Lotes de frases de longitud parecida (menos relleno, mismo barajado global).

    Se toman trozos de ``bucket_batches * batch_size`` índices en el orden
    barajado, se ordena cada trozo por longitud, se corta en lotes y se barajan
    los lotes. Cada índice aparece exactamente una vez.
    """
    batches: list[list[int]] = []
    chunk = batch_size * bucket_batches
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    perm = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in perm]


# --- Línea de órdenes ------------------------------------------------------------------


def add_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Añade la orden ``finetune-bert`` a un ``add_subparsers()`` de argparse."""
    p = subparsers.add_parser(
        "finetune-bert",
        help="ajuste fino de BERT en SST-2 (admite torchrun para varios procesos)",
        description=(
            "Ajusta un codificador BERT (el del perfil, o --model) en SST-2 y lo evalúa en la "
            "validación. Con torchrun --nproc_per_node N usa DistributedDataParallel."
        ),
    )
    p.add_argument("--train-limit", type=int, default=None,
                   help="frases de entrenamiento (por defecto, las del perfil)")
    p.add_argument("--eval-limit", type=int, default=None,
                   help="frases de validación (por defecto, las 872)")
    p.add_argument("--epochs", type=int, default=1, help="épocas (por defecto 1)")
    p.add_argument("--batch-size", type=int, default=16, help="lote por proceso (16)")
    p.add_argument("--lr", type=float, default=None,
                   help="tasa de aprendizaje (por defecto, según el tamaño del modelo)")
    p.add_argument("--max-length", type=int, default=128, help="tokens máximos (128)")
    p.add_argument("--model", default=None,
                   help="identificador del Hub o carpeta local (por defecto, el del perfil)")
    p.add_argument("--seed", type=int, default=0, help="semilla (0)")
    p.add_argument("--out", default=None, help="carpeta donde guardar el modelo ajustado")
    p.add_argument("--json", default=None, help="fichero JSON con las métricas")
    p.add_argument("--no-progress", action="store_true", help="sin barra de progreso")
    return p


def _init_distributed() -> tuple[bool, int, int, torch.device | None]:
    """Inicializa ``torch.distributed`` si lo lanzó ``torchrun`` (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False, 0, 1, None
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    dist.init_process_group(backend=backend)
    return True, rank, world, device


def _validate_cli_args(args: argparse.Namespace) -> None:
    """Comprueba los argumentos de ``finetune-bert`` **antes** de cargar datos o entrenar:
    tamaños, tasa de aprendizaje, semilla, perfil y que ``--out``/``--json`` se
    puedan escribir (para no perder un entrenamiento al final)."""
    from labcode.utils.config import get_profile

    get_profile()  # LABCODE_PROFILE no válido: error ya
    for flag, value in (("--train-limit", args.train_limit), ("--eval-limit", args.eval_limit)):
        if value is not None:
            checks.positive_int(flag, value)
    checks.positive_int("--epochs", args.epochs)
    checks.positive_int("--batch-size", args.batch_size)
    if checks.positive_int("--max-length", args.max_length) < 2:
        raise LabcodeValueError(f"--max-length debe ser >= 2; se recibió {args.max_length}.")
    if args.lr is not None:
        checks.positive_float("--lr", args.lr)
    checks.seed(args.seed, "--seed")
    if args.model is None:
        spec = pretrained.resolve_bert_model()
    else:
        value = checks.text("--model", args.model, allow_empty=False)
        if Path(value).is_dir() and not pretrained.looks_like_path(value):
            value = "./" + value
        spec = pretrained.spec_from_override(value, "encoder")
    if spec.source != "hub":  # carpeta o paquete: se revisa ya (config, tipo, pesos)
        pretrained.local_model_dir(spec)
    if args.out:
        checks.writable_folder(args.out, "--out")
    if args.json:
        checks.writable_file(args.json, "--json")


def run_cli(args: argparse.Namespace) -> int:
    """Ejecuta ``finetune-bert`` con los argumentos de :func:`add_cli`."""
    import torch.distributed as dist

    _validate_cli_args(args)
    distributed, rank, world, device = _init_distributed()
    try:
        train = pretrained.load_sst2("train", limit=args.train_limit)
        val = pretrained.load_sst2("validation", limit=args.eval_limit)
        clf = BERTSentimentClassifier(
            model_name=args.model, max_length=args.max_length, device=device, seed=args.seed
        )
        if rank == 0:
            info = pretrained.describe_run(clf.spec, n_train=len(train), n_eval=len(val),
                                           device=clf.device)
            print(f"Ajuste fino: {info} · procesos={world}", flush=True)
        hist = clf.fit(
            train["sentence"], train["label"], epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, progress=not args.no_progress,
        )
        if distributed:
            dist.barrier()
        if rank == 0:
            metrics = clf.evaluate(val["sentence"], val["label"])
            print(
                f"validación: exactitud={metrics['accuracy']:.4f} F1={metrics['f1']:.4f} "
                f"(n={metrics['n']}); entrenamiento {hist.train_seconds:.1f} s",
                flush=True,
            )
            if args.out:
                clf.save(args.out)
                print(f"modelo guardado en {args.out}", flush=True)
            if args.json:
                result = {
                    "model": clf.spec.name,
                    "profile": pretrained.describe_run(clf.spec, device=clf.device)["profile"],
                    "device": clf.device.type,
                    "world_size": world,
                    "n_train": len(train),
                    "epochs": args.epochs,
                    "batch_size": args.batch_size,
                    "lr": args.lr or default_lr(clf.num_parameters()),
                    "train_seconds": hist.train_seconds,
                    "final_loss": hist.loss[-1],
                    **metrics,
                }
                checks.atomic_write_text(args.json, json.dumps(result, indent=2))
        if distributed:
            dist.barrier()
    finally:
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return 0
