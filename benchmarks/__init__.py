"""Codec-independent benchmark tooling (classical codecs, BD metrics, published reference curves)."""
