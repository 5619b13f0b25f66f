"""Entropy coding: bit-exact probability parameters, the integer ARM and constriction wrappers."""
