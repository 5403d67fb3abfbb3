"""La prosa no puede contradecir al código.

Cada frase que compara o juzga un resultado ejecutado (una frase con un valor publicado con
``glue``, o en un párrafo que comenta una salida, o en un resumen, y con palabras como «más…
que», «mejor», «gana», «nunca», «ninguna», «suele», «bien»…) tiene que estar cubierta:

- por un texto publicado con ``glue`` que se calcula en el código con una rama para cada
  resultado (``glue("x", "texto A" if cond else "texto B")``), o
- por una **guarda**: una celda ``remove-cell`` con un ``assert`` que cita la frase entre
  comillas latinas («…», con los valores de glue escritos ``{nombre}``). Si la afirmación deja
  de ser cierta, la construcción del libro falla; si se reescribe la frase, esta prueba pide
  actualizar la cita.

Las pocas frases ciertas por definición (no dependen de ninguna ejecución) están en
``ALLOWLIST`` con su motivo. Esta prueba solo lee ``book/*.md``: no necesita el libro construido.
"""

from __future__ import annotations

import textwrap

import pytest
from bookutil import toc_files
from claimutil import BOOK, branch_glues, covered, flagged, guard_quotes

# (página, fragmento de la frase normalizada, por qué es cierta sin depender de una ejecución)
ALLOWLIST = [
    ("01_motivacion", "En las cuatro longitudes mayores", "describe el ajuste"),
    ("01_motivacion", "gana quien hace menos operaciones", "cuenta de operaciones teórica"),
    ("01_motivacion", "ninguna cantidad de núcleos adicionales", "dependencia secuencial"),
    ("01_motivacion", "producto de $T - t$ factores menores que uno", "álgebra"),
    ("02_self_attention", "La mejor de todas las cabezas en esta prueba llega", "es el máximo"),
    ("02_self_attention", "cabezas dan más peso a «gato» que a «leche», con", "es el recuento"),
    ("02_self_attention", "medimos cuánto peso da it a cat menos", "describe el método"),
    ("02_self_attention", "el peso es exactamente 0 y cambiar un token", "se comprueba"),
    ("02_self_attention", "Una fila sin ninguna clave permitida es un error", "contrato de la API"),
    ("03_multi_head", "es exactamente la fórmula", "assert_allclose en la celda anterior"),
    ("03_multi_head", "no es más que un reshape", "definición"),
    ("03_multi_head", "se lleva más de la mitad del peso tiene un patrón claro", "definición"),
    ("03_multi_head", "cabezas tienen un destino que se lleva más de la mitad", "es el criterio"),
    ("03_multi_head", "sin invertirla no da ningún error", "convención de las máscaras"),
    ("03_multi_head", "sin ninguna clave permitida", "contrato de la API"),
    ("03_multi_head", "NaN sin ningún aviso", "convención de las máscaras"),
    ("04_positional", "sin ninguna información de posición", "describe el montaje"),
    ("04_positional", "una posición que nunca se vio al entrenar", "sin gradiente no cambia"),
    ("04_positional", "en buena parte para extrapolar mejor", "motivación de la literatura"),
    ("05_arquitectura", "no puede atender a ninguna clave?", "pregunta"),
    ("05_arquitectura", "la primera clave siempre es real", "relleno a la derecha"),
    ("05_arquitectura", "no aparecen nunca en el entrenamiento", "partición por construcción"),
    ("06_bert_vs_gpt", "La única sutileza es que GPT-2", "formato de los pesos"),
    ("06_bert_vs_gpt", "el más probable en la decodificación voraz", "definición"),
    ("06_bert_vs_gpt", "¿Cuánto se gana?", "pregunta"),
    ("06_bert_vs_gpt", "nadie atiende a las claves de relleno", "lo impone la máscara"),
    ("06_bert_vs_gpt", "en el peor caso cada byte es un token", "BPE por bytes"),
    ("06_bert_vs_gpt", "si ninguna fusión los une", "condicional"),
    ("07_fine_tuning_bert", "Las frases más largas que max_length", "contrato del tokenizador"),
    ("07_fine_tuning_bert", "Si una frase en español sale bien clasificada", "condicional"),
    ("07_fine_tuning_bert", "la cabeza no es más que eso", "se comprueba en el código"),
    ("08_generacion", "El token más probable es {ch08_top1_token}", "definición (argmax)"),
    ("08_generacion", "hacia palabras menos naturales", "posibilidad, no resultado"),
    ("08_generacion", "el token más probable pasa a tener probabilidad", "T > 1 aplana"),
    ("09_visualizacion", "Desde el adjetivo, {ch09_ctrl_gen_flip_adj} cabeza(s) cambian bien",
     "es el recuento"),
    ("09_visualizacion", "ver si la misma cabeza cambia de preferencia", "describe el método"),
    ("09_visualizacion", "(«cambian bien» = más de 0,1", "definición del criterio"),
    ("10_transformers_vs_rnn", "ajustado a las tres longitudes mayores", "describe el método"),
    ("10_transformers_vs_rnn", "veces más multiplicaciones por capa que la recurrencia ($n/d$)",
     "cociente teórico n/d"),
    ("11_vision_transformers", "a cambio necesita muchos menos datos", "definición de sesgo"),
    ("11_vision_transformers", "El mejor modelo es: {ch11_best}.", "es el argmax de la tabla"),
    ("12_aplicaciones", "La mejor configuración («{ch12_best_prompt}», calibrada)", "máximo"),
    ("12_aplicaciones", "con datos nuevos rendiría algo peor", "sesgo de selección esperado"),
    ("12_aplicaciones", "la ventana apenas cambia nada", "condicional: explica el método"),
    ("12_aplicaciones", "la ventana promedia muchos menos", "explica por qué puede pasar"),
    ("12_aplicaciones", "tienen que ser un único token", "requisito del método"),
    ("12_aplicaciones", "El clasificador ajustado no tiene ninguno", "definición"),
    ("12_aplicaciones", "una pendiente mayor que 2 indica", "interpretación de la medida"),
    ("rendimiento", "usa un camino rápido en C++", "describe PyTorch"),
    ("08_generacion", "La continuación más repetitiva (menor distinct-2) es la de", "argmin glued"),
]


def _pages() -> list[str]:
    return [f.removeprefix("book/") for f in toc_files() if f.startswith("book/")]


def _allowed(page: str, plain: str) -> bool:
    return any(p == page and frag in plain for p, frag, _ in ALLOWLIST)


def uncovered(page: str) -> list[str]:
    path = BOOK / f"{page}.md"
    branches, quotes = branch_glues(path), guard_quotes(path)
    return [f"{page}.md:{s.line}: {s.plain}" for s in flagged(path)
            if not covered(s, branches, quotes) and not _allowed(page, s.plain)]


@pytest.mark.parametrize("page", _pages())
def test_every_claim_is_covered(page):
    missing = uncovered(page)
    assert not missing, (
        "Estas frases juzgan un resultado que otra ejecución podría cambiar. Publica el texto "
        "con glue y una rama por resultado, o añade una celda remove-cell con un assert que "
        "cite la frase entre «…»:\n" + "\n".join(missing))


def test_allowlist_is_small_and_used():
    assert len(ALLOWLIST) <= 50
    texts = {}
    for page in _pages():
        texts[page] = [s.plain for s in flagged(BOOK / f"{page}.md")]
    stale = [(p, f) for p, f, _ in ALLOWLIST if not any(f in s for s in texts.get(p, []))]
    assert not stale, f"Entradas de ALLOWLIST que ya no corresponden a ninguna frase: {stale}"


# Frases reales que el número 12 encontró contradiciendo (o pudiendo contradecir) al código.
KNOWN = {
    "11": """
        ```{code-cell} ipython3
        glue("ch11_best", mejor)
        ```

        El mejor modelo es: {glue:text}`ch11_best`. La CNN pequeña alcanza el
        {glue:text}`ch11_cnn_acc` % y el ViT es el más lento de entrenar. Con
        {glue:text}`ch11_n_train` imágenes de 8x8, la CNN gana porque sus sesgos inductivos
        coinciden con la estructura de los datos. Aquí, con solo {glue:text}`ch11_n_train`
        imágenes, lo único claro es la diagonal: la vecindad 2D no emerge.
        """,
    "05": """
        ```{code-cell} ipython3
        print(salidas)
        ```

        Las fechas del rango se convierten bien, pero el modelo no «sabe» de calendarios.
        Cuando el modelo se equivoca suele ser intercambiando dos dígitos del año.

        ```{code-cell} ipython3
        plt.show()
        ```

        Para escribir el año mira sobre todo a los dígitos de «2021».
        """,
    "02": """
        Con *tasty*, esa misma cabeza pasa a {glue:text}`ch02_top_cat_tasty` para *cat* y
        {glue:text}`ch02_top_milk_tasty` para *milk*: ¡cambia de preferencia como haría un
        resolutor de correferencias!
        """,
    "09": """
        En español cambian bien {glue:text}`ch09_ctrl_enc_flip_es` cabeza(s): no se ve en
        ninguna cabeza. El *rollout* de {glue:text}`ch09_roll_special` no corrige los
        sumideros, los **acumula**.
        """,
    "08": """
        ## Resumen

        - La decodificación voraz tiende a repetirse; la búsqueda en haz, aún más.
        - La perplejidad es menor para inglés fluido que para otro idioma.
        """,
    "06": """
        ```{code-cell} ipython3
        print(muestra)
        ```

        Con el perfil `full` la pérdida baja bastante más y aparecen frases enteras con sabor
        cervantino.
        """,
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_detector_catches_the_known_examples(name, tmp_path):
    path = tmp_path / f"ejemplo_{name}.md"
    path.write_text(textwrap.dedent(KNOWN[name]), encoding="utf-8")
    found = flagged(path)
    n_sentences = {"11": 4, "05": 3, "02": 1, "09": 2, "08": 2, "06": 1}[name]
    assert len(found) >= n_sentences, [s.plain for s in found]
    assert not any(covered(s, branch_glues(path), guard_quotes(path)) for s in found)


def test_branch_glue_and_guard_cover(tmp_path):
    text = textwrap.dedent('''
        ```{code-cell} ipython3
        glue("x_verdict", "la CNN gana a las demás" if mejor == "CNN" else f"gana {mejor} esta vez")
        ```

        En el mejor caso, {glue:text}`x_verdict`. El ViT es el más lento.
        La CNN tiene menos parámetros que el ViT.

        ```{code-cell} ipython3
        :tags: [remove-cell]
        assert cnn_params < vit_params, "«La CNN tiene menos parámetros que el ViT»"
        ```
        ''')
    path = tmp_path / "ejemplo.md"
    path.write_text(text, encoding="utf-8")
    found = flagged(path)
    left = [s.plain for s in found if not covered(s, branch_glues(path), guard_quotes(path))]
    assert len(found) == 3
    assert left == ["El ViT es el más lento."]
