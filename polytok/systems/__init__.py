"""LightningModules. Importing this package imports lightning (``import polytok`` does not)."""

from polytok.systems.lm import LanguageModelSystem

__all__ = ["LanguageModelSystem"]
