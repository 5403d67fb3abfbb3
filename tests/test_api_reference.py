"""La referencia de la API (book/api.md) documenta cada módulo de labcode una sola vez.

Los docstrings enlazan unos módulos con otros (``:mod:``, ``:func:``...); con ``-n``
un enlace a un módulo que no está en la referencia rompe la construcción. Esta
prueba lo detecta sin construir el libro.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections import Counter

from bookutil import ROOT

import labcode

API = ROOT / "book" / "api.md"
# Los módulos de cada capítulo de ejercicios se documentan a través del paquete
# labcode.book.exercises, que reexporta sus nombres públicos.
EXERCISE_MODULE = re.compile(r"^labcode\.book\.exercises\.(ch\d\d|_common)$")


def documented_modules() -> list[str]:
    return re.findall(r"^\.\. automodule:: (\S+)\s*$", API.read_text(encoding="utf-8"), re.M)


def defines_something(module) -> bool:
    """Si el módulo define alguna clase o función propia (no solo reexporta)."""
    return any(
        getattr(obj, "__module__", None) == module.__name__
        for obj in vars(module).values()
        if inspect.isclass(obj) or inspect.isfunction(obj)
    )


def public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(labcode.__path__, "labcode."):
        if EXERCISE_MODULE.match(info.name):
            continue
        parts = info.name.split(".")
        if any(p.startswith("_") and p != "__main__" for p in parts):
            continue
        module = importlib.import_module(info.name)
        if info.ispkg and not defines_something(module):
            continue
        names.append(info.name)
    return names


def test_every_public_module_is_in_the_api_reference():
    documented = set(documented_modules())
    missing = [name for name in public_modules() if name not in documented]
    assert not missing, f"Módulos de labcode sin «automodule» en book/api.md: {missing}"


def test_api_reference_documents_each_module_once_and_only_real_modules():
    counts = Counter(documented_modules())
    assert not [m for m, c in counts.items() if c > 1], counts
    for name in counts:
        importlib.import_module(name)  # falla si el módulo ya no existe


def test_names_are_documented_where_they_are_defined():
    """Un nombre de ``__all__`` importado de otro módulo documentado saldría dos veces."""
    documented = set(documented_modules())
    reexported = []
    for name in sorted(documented):
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            home = obj.__module__
            if home != name and home in documented:
                reexported.append(f"{name}.{attr} (definido en {home})")
    assert not reexported, reexported
