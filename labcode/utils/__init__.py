"""Utilidades de la capa más baja: errores, validación, configuración y ejecución."""
