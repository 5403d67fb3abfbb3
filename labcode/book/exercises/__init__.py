"""Comprobaciones de los ejercicios del libro, un módulo por capítulo.

Cada función ``check_*`` recibe la respuesta del lector, la compara con la
solución calculada por ``labcode`` y escribe un mensaje en español. Devuelve
``True`` si la respuesta es correcta y ``False`` si no (o si aún no hay
respuesta: ``None``). Nunca lanza una excepción por una respuesta mal formada:
explica qué se esperaba.
"""

from labcode.book.exercises.ch02 import EXERCISE_11_1, TOLERANCES_11_1, check_11_1
from labcode.book.exercises.ch03 import check_11_3
from labcode.book.exercises.ch04 import check_11_2
from labcode.book.exercises.ch05 import PRACTICE_CH5, check_ch5_mask
from labcode.book.exercises.ch06 import PRACTICE_CH6, check_ch6_kv_cache, model_ch6
from labcode.book.exercises.ch07 import (
    EXERCISE_11_4,
    accuracy_11_4,
    check_11_4,
    check_ch7_metrics,
    data_11_4,
)
from labcode.book.exercises.ch08 import check_11_5, check_ch8_top_p
from labcode.book.exercises.ch09 import check_ch9_previous_token_head
from labcode.book.exercises.ch10 import PRACTICE_CH10, check_ch10_complexity
from labcode.book.exercises.ch11 import check_ch11_patches

__all__ = [
    "EXERCISE_11_1",
    "TOLERANCES_11_1",
    "check_11_1",
    "check_11_3",
    "check_11_2",
    "PRACTICE_CH5",
    "check_ch5_mask",
    "PRACTICE_CH6",
    "model_ch6",
    "check_ch6_kv_cache",
    "check_ch7_metrics",
    "EXERCISE_11_4",
    "data_11_4",
    "accuracy_11_4",
    "check_11_4",
    "check_ch8_top_p",
    "check_11_5",
    "check_ch9_previous_token_head",
    "PRACTICE_CH10",
    "check_ch10_complexity",
    "check_ch11_patches",
]
