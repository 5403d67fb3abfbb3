"""Tareas de secuencia a secuencia generadas en código (sin descargar nada).

- :class:`DateTask`: normalizar fechas escritas en español
  («el 3 de marzo del 2021», «03/03/2021», «martes, 3 de marzo de 2021»...) al
  formato ISO ``2021-03-03``.

Los vocabularios son :class:`labcode.data.tokenizer.CharTokenizer` con los
especiales ``<pad>``, ``<bos>``, ``<eos>`` y ``<unk>`` (ids 0 a 3).

Todas comparten la interfaz de :class:`Seq2SeqTask`: ``sample_pairs`` devuelve
pares de cadenas ``(fuente, destino)`` y ``collate`` los convierte en tensores
con relleno, listos para :class:`labcode.models.seq2seq.TransformerModel`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import numpy as np
import torch

from labcode.data.tokenizer import CharTokenizer
from labcode.utils.checks import seed as _check_seed
from labcode.utils.errors import LabcodeValueError

__all__ = [
    "Seq2SeqTask",
    "DateTask",
    "MESES",
    "DIAS_SEMANA",
    "DATE_FORMATS",
    "format_date",
]


MESES = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
MESES_ABREV = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")
DIAS_SEMANA = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")

#: Plantillas de los formatos de entrada; sus campos son ``d`` (día sin ceros), ``dd`` (día con
#: dos cifras), ``m``/``mm`` (mes), ``mes`` (nombre), ``mesab`` (abreviatura), ``dia``
#: (día de la semana), ``y`` (año con cuatro cifras) y ``yy`` (dos cifras).
DATE_FORMATS = (
    "{d} de {mes} de {y}",
    "{dd}/{mm}/{y}",
    "{d}/{m}/{y}",
    "{d} {mes} {y}",
    "el {d} de {mes} del {y}",
    "{dia}, {d} de {mes} de {y}",
    "{dd}.{mm}.{y}",
    "{d} {mesab} {y}",
    "{dd}-{mm}-{y}",
    "{dd}/{mm}/{yy}",
)

#: Alfabeto fijo de la fuente (así el vocabulario no depende de la muestra).
SRC_ALPHABET = " ,-./0123456789abcdefghijklmnopqrstuvwxyzáéíóúñ"
#: Alfabeto del destino (fechas ISO).
TGT_ALPHABET = "-0123456789"


def format_date(date: _dt.date, fmt: str) -> str:
    """Escribe ``date`` con la plantilla ``fmt`` (una de :data:`DATE_FORMATS`).

    Los años de dos cifras (``{yy}``) se interpretan en el rango 1950-2049.
    """
    return fmt.format(
        d=date.day,
        dd=f"{date.day:02d}",
        m=date.month,
        mm=f"{date.month:02d}",
        mes=MESES[date.month - 1],
        mesab=MESES_ABREV[date.month - 1],
        dia=DIAS_SEMANA[date.weekday()],
        y=date.year,
        yy=f"{date.year % 100:02d}",
    )


class Seq2SeqTask:
    """Base de las tareas: vocabularios, muestreo de pares y relleno (*padding*).

    Las subclases definen ``src_vocab``, ``tgt_vocab`` y ``sample_pairs``.
    """

    src_vocab: CharTokenizer
    tgt_vocab: CharTokenizer

    def sample_pairs(
        self, n: int, rng: np.random.Generator, split: str = "train"
    ) -> list[tuple[str, str]]:
        raise NotImplementedError

    def max_src_len(self) -> int:
        """Longitud máxima (en caracteres) de una fuente."""
        raise NotImplementedError

    def max_tgt_len(self) -> int:
        """Longitud máxima de un destino, sin contar ``<bos>``/``<eos>``."""
        raise NotImplementedError

    def encode_sources(self, texts: Sequence[str]) -> torch.Tensor:
        """Lista de cadenas fuente -> tensor ``(B, S)`` con relleno a la derecha."""
        seqs = [self.src_vocab.encode(self.normalize_source(t)) for t in texts]
        return _pad(seqs, self.src_vocab.pad_id)

    def normalize_source(self, text: str) -> str:
        return text

    def collate(self, pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pares de cadenas -> ``(src (B, S), tgt (B, T + 2))``.

        ``tgt`` empieza por ``<bos>`` y termina en ``<eos>`` (seguido de relleno).
        """
        src = self.encode_sources([s for s, _ in pairs])
        tgt = _pad(
            [self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs],
            self.tgt_vocab.pad_id,
        )
        return src, tgt

    def batch(
        self, n: int, rng: np.random.Generator, split: str = "train"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Lote aleatorio ``(src, tgt)`` de ``n`` pares."""
        return self.collate(self.sample_pairs(n, rng, split))


def _pad(seqs: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    T = max(len(s) for s in seqs)
    out = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out  # (B, T)


class DateTask(Seq2SeqTask):
    """Normalizar fechas en español al formato ISO ``AAAA-MM-DD``.

    Las fechas del rango se reparten **una sola vez** (con ``seed``) entre
    entrenamiento y prueba: las fechas de prueba nunca aparecen en el
    entrenamiento, en ningún formato.

    Parameters
    ----------
    start_year, end_year : int
        Rango de años (incluidos). Por defecto 1950-2049, el rango en el que un
        año de dos cifras no es ambiguo.
    test_fraction : float
        Fracción de fechas reservadas para la prueba.
    seed : int
        Semilla del reparto.

    Examples
    --------
    >>> task = DateTask()
    >>> import datetime
    >>> format_date(datetime.date(2021, 3, 3), "el {d} de {mes} del {y}")
    'el 3 de marzo del 2021'
    """

    def __init__(
        self,
        start_year: int = 1950,
        end_year: int = 2049,
        test_fraction: float = 0.1,
        seed: int = 0,
        formats: Sequence[str] = DATE_FORMATS,
    ):
        if not 0.0 < test_fraction < 1.0:
            raise LabcodeValueError(
                f"DateTask: test_fraction debe estar en (0, 1); se recibió {test_fraction}."
            )
        if "{yy}" in "".join(formats) and (start_year < 1950 or end_year > 2049):
            raise LabcodeValueError(
                "DateTask: con años de dos cifras el rango debe estar dentro de 1950-2049; "
                f"se recibió {start_year}-{end_year}."
            )
        first, last = _dt.date(start_year, 1, 1), _dt.date(end_year, 12, 31)
        ordinals = np.arange(first.toordinal(), last.toordinal() + 1)
        rng = np.random.default_rng(_check_seed(seed))
        rng.shuffle(ordinals)
        n_test = int(round(len(ordinals) * test_fraction))
        self.test_ordinals = np.sort(ordinals[:n_test])
        self.train_ordinals = np.sort(ordinals[n_test:])
        self.formats = tuple(formats)
        self.src_vocab = CharTokenizer.from_alphabet(SRC_ALPHABET)
        self.tgt_vocab = CharTokenizer.from_alphabet(TGT_ALPHABET)

    def __repr__(self) -> str:
        return (
            f"DateTask(train={len(self.train_ordinals)} fechas, "
            f"test={len(self.test_ordinals)} fechas, formatos={len(self.formats)})"
        )

    def normalize_source(self, text: str) -> str:
        return " ".join(text.lower().split())

    def sample_pairs(
        self, n: int, rng: np.random.Generator, split: str = "train"
    ) -> list[tuple[str, str]]:
        """``n`` pares ``(texto, ISO)`` con fecha y formato aleatorios del ``split``."""
        if split not in ("train", "test"):
            raise LabcodeValueError(
                f"DateTask: split debe ser 'train' o 'test'; se recibió {split!r}."
            )
        pool = self.train_ordinals if split == "train" else self.test_ordinals
        days = rng.choice(pool, size=n)
        fmts = rng.integers(0, len(self.formats), size=n)
        out = []
        for o, f in zip(days, fmts, strict=True):
            date = _dt.date.fromordinal(int(o))
            out.append((format_date(date, self.formats[f]), date.isoformat()))
        return out

    def max_src_len(self) -> int:
        longest = _dt.date(2049, 9, 30)  # «miércoles, 30 de septiembre de 2049»
        return max(len(format_date(longest, f)) for f in self.formats) + 2

    def max_tgt_len(self) -> int:
        return 10
