"""Hugging Face: modelos preentrenados, tokenizadores, clasificación y generación."""
