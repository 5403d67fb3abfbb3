"""Modelos completos: Transformer encoder-decoder, GPT, BERT, Llama y ViT."""
