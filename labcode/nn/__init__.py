"""Piezas de PyTorch: máscaras, atención multicabeza, FFN, bloques, posiciones, LSTM."""
