"""Encoder-only code: fitting the network to one image and choosing quantization steps."""
