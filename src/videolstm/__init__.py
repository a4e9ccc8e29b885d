"""Reproduction of Srivastava, Mansimov & Salakhutdinov (ICML 2015)."""

__version__ = "0.1.0"
