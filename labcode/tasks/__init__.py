"""Experimentos completos que combinan datos, modelo y entrenamiento."""
