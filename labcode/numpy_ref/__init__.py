"""Atención y codificación posicional en NumPy puro (capítulos 2 a 4): la referencia."""
