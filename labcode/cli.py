"""Línea de órdenes de labcode: ``python -m labcode``.

Equivale al ``python codigo/transformers.py`` del laboratorio original: un
recorrido guiado por las piezas del Transformer en la terminal.

Ejemplos::

    python -m labcode --help
    python -m labcode tour
    python -m labcode tour --seed 3
    python -m labcode finetune-bert --train-limit 2000 --epochs 1
    torchrun --nproc_per_node 2 -m labcode finetune-bert --train-limit 2000
    python -m labcode generate "Había una vez" --strategy sample --seed 0
    python -m labcode bench mha generation --json resultados.json
    python -m labcode prefetch

Errores: cada error se escribe en **una línea** en español en la salida de
errores, con código de salida 2 (un argumento, fichero o carpeta no válidos),
1 (no se pudo ejecutar: modelo o datos no disponibles, error inesperado) o 130
(Ctrl-C); ``--debug`` (o ``LABCODE_DEBUG=1``) muestra además la traza completa.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

import numpy as np

from labcode.utils.errors import LabcodeError


def _title(text: str) -> None:
    print()
    print(text)
    print("─" * len(text))


def tour(seed: int = 0) -> int:
    """Recorrido guiado: autoatención, atención multi-cabeza y codificación posicional."""
    from labcode.numpy_ref.attention import (
        MultiHeadAttentionNumPy,
        SelfAttentionNumPy,
        causal_mask,
    )
    from labcode.numpy_ref.positional import PositionalEncodingSinusoidal
    from labcode.utils.checks import seed as check_seed

    seed = check_seed(seed, "--seed")
    np.set_printoptions(precision=3, suppress=True)
    rng = np.random.default_rng(seed)
    tokens = ["el", "gato", "bebió", "la", "leche"]
    x = rng.normal(size=(len(tokens), 8))

    _title("1. Autoatención (self-attention) en NumPy")
    attn = SelfAttentionNumPy(d_model=8, d_k=4, seed=seed)
    out, w = attn(x)
    print(f"entrada {x.shape} -> salida {out.shape}; pesos {w.shape}")
    print("pesos de atención (filas = consultas, suman 1):")
    for tok, row in zip(tokens, w, strict=True):
        print(f"  {tok:>6} {row}")
    print("suma de cada fila:", w.sum(axis=-1))

    _title("2. Máscara causal: nadie mira al futuro")
    _, wc = attn(x, mask=causal_mask(len(tokens)))
    print(wc)

    _title("3. Atención multi-cabeza (multi-head attention)")
    mha = MultiHeadAttentionNumPy(d_model=8, num_heads=2, seed=seed)
    out, w = mha(x)
    print(f"2 cabezas: salida {out.shape}, pesos {w.shape} (cabezas, consultas, claves)")

    _title("4. Codificación posicional sinusoidal")
    pe = PositionalEncodingSinusoidal(d_model=8, max_len=50)
    print("PE de las posiciones 0 a 2:")
    print(pe.pe[:3])
    print(f"x + PE conserva la forma: {pe(x).shape}")
    print()
    print("Sigue en el libro: make book  (o abre _build/html/index.html)")
    return 0


# --- argparse en español ----------------------------------------------------------

#: Traducción de los mensajes de error de argparse (Python 3.10 a 3.13).
_ARGPARSE_ES = [
    (r"the following arguments are required: (.*)", r"faltan argumentos obligatorios: \1"),
    (r"argument (.*?): invalid choice: (.*?) \(choose from (.*)\)",
     r"argumento \1: opción no válida: \2 (elige entre \3)"),
    (r"argument (.*?): invalid int value: (.*)",
     r"argumento \1: se esperaba un entero; se recibió \2"),
    (r"argument (.*?): invalid float value: (.*)",
     r"argumento \1: se esperaba un número; se recibió \2"),
    (r"argument (.*?): invalid (.*?) value: (.*)", r"argumento \1: valor no válido: \3"),
    (r"argument (.*?): expected one argument", r"argumento \1: falta su valor"),
    (r"argument (.*?): expected at least one argument", r"argumento \1: falta al menos un valor"),
    (r"argument (.*?): expected (.*) arguments?", r"argumento \1: número de valores incorrecto"),
    (r"argument (.*?): ignored explicit argument (.*)",
     r"argumento \1: no admite el valor \2"),
    (r"argument (.*?): not allowed with argument (.*)",
     r"argumento \1: no se puede usar junto con \2"),
    (r"unrecognized arguments: (.*)", r"argumentos no reconocidos: \1"),
    (r"ambiguous option: (.*?) could match (.*)", r"opción ambigua: \1 puede ser \2"),
    (r"invalid choice: (.*?) \(choose from (.*)\)", r"opción no válida: \1 (elige entre \2)"),
]


def translate_argparse(message: str) -> str:
    """Mensaje de error de argparse en español (sin cambios si no se reconoce)."""
    for pattern, repl in _ARGPARSE_ES:
        if re.fullmatch(pattern, message, flags=re.S):
            return re.sub(pattern, repl, message, flags=re.S)
    return message


class _SpanishHelpFormatter(argparse.HelpFormatter):
    def _format_usage(self, usage, actions, groups, prefix):
        return super()._format_usage(usage, actions, groups, "uso: " if prefix is None else prefix)


class _SpanishArgumentParser(argparse.ArgumentParser):
    """``ArgumentParser`` con la ayuda y los errores en español.

    Un error de argumentos se escribe en una sola línea en la salida de
    errores (con una pista para ver la ayuda) y termina con código 2.
    """

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", _SpanishHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "argumentos"
        self._optionals.title = "opciones"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="muestra esta ayuda y termina")

    def error(self, message: str):  # type: ignore[override]
        text = translate_argparse(str(message))
        self.exit(2, f"{self.prog}: error: {text} (usa --help para ver las opciones)\n")


def prefetch() -> int:
    """Consigue los datos del libro y prepara sus modelos locales, por adelantado.

    Consigue (de ``LABCODE_DATA``, de la caché o descargándolo) y comprueba cada
    fichero de datos, y convierte a safetensors el decodificador GGUF empaquetado
    (SmolLM2). Si no, esa conversión la hace el primer capítulo que lo usa, y
    necesita memoria para una copia más del modelo. Los modelos del Hub se
    descargan al usarse.
    Lo usan ``make book`` (antes de ejecutar los capítulos) y Binder (al construir
    la imagen).
    """
    from labcode.data import registry
    from labcode.hf import pretrained

    for name in sorted(registry.REGISTRY):
        print(f"datos {name}: {registry.fetch(name)}", flush=True)
    specs = {}
    for spec in (pretrained.resolve_bert_model(), pretrained.resolve_gpt_model(),
                 pretrained.smollm2_spec()):
        specs.setdefault(spec.path_or_id, spec)
    for spec in specs.values():
        where = ("del Hub de Hugging Face (se descarga al usarlo)" if spec.source == "hub"
                 else pretrained.local_model_dir(spec))
        print(f"modelo {spec.name}: {where}", flush=True)
    return 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def build_parser() -> argparse.ArgumentParser:
    parser = _SpanishArgumentParser(
        prog="python -m labcode",
        description="Lab 11: Transformers. Recorrido guiado y utilidades del libro.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="ante un error, muestra la traza completa de Python")
    sub = parser.add_subparsers(dest="command", metavar="ORDEN", title="órdenes")
    p_tour = sub.add_parser("tour", help="recorrido guiado por las piezas del Transformer")
    p_tour.add_argument("--seed", type=int, default=0, help="semilla (por defecto 0)")
    sub.add_parser("prefetch", help="consigue los datos y prepara los modelos por adelantado",
                   description=prefetch.__doc__.split("\n\n")[0])
    # Subórdenes que viven en su módulo: cada uno define add_cli(subparsers) y run_cli(args).
    for module_name in _CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - módulo opcional ausente
            continue
        if hasattr(module, "add_cli"):
            before = set(sub.choices)
            module.add_cli(sub)
            for name in set(sub.choices) - before:
                _HANDLERS[name] = module.run_cli
    return parser


#: Módulos que aportan subórdenes (``finetune-bert``, ``generate``...).
_CLI_MODULES = ("labcode.hf.sentiment", "labcode.hf.generation", "labcode.book.bench")
_HANDLERS: dict = {}


def main(argv: list[str] | None = None) -> int:
    """Punto de entrada de ``python -m labcode``; devuelve el código de salida.

    Los errores previstos (:class:`labcode.utils.errors.LabcodeError`) y los
    imprevistos se escriben en una línea en español en la salida de errores
    (código 1); ``--debug`` o ``LABCODE_DEBUG=1`` los dejan pasar con su traza.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("LABCODE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    prog = "python -m labcode"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command in (None, "tour"):
            prog = f"{prog} tour"
            return tour(seed=getattr(args, "seed", 0))
        if args.command == "prefetch":
            prog = f"{prog} prefetch"
            return prefetch()
        handler = _HANDLERS.get(args.command)
        if handler is None:  # pragma: no cover - argparse ya rechaza órdenes desconocidas
            parser.error(f"orden desconocida: {args.command}")
        prog = f"{prog} {args.command}"
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrumpido (Ctrl-C).", file=sys.stderr)
        return 130
    except LabcodeError as exc:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        # 2: una entrada no válida (argumento, fichero, carpeta); 1: no se pudo ejecutar.
        return 2 if isinstance(exc, (ValueError, TypeError)) else 1
    except Exception as exc:  # noqa: BLE001 - nunca una traza sin --debug
        if debug:
            raise
        print(f"{prog}: error inesperado ({type(exc).__name__}): {_one_line(exc)}. Repite la "
              "orden con --debug para ver la traza completa.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
