"""Datos: descarga con hash comprobado y tareas de secuencia a secuencia."""
