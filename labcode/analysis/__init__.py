"""Análisis: mapas de atención, rollout, leyes de escala, costes y figuras."""
