"""LightningModules and LightningDataModules. Importing this package imports lightning
(``import polytok`` does not)."""

from polytok.systems.lm import LanguageModelSystem
from polytok.systems.token_stream import TokenStreamDataModule

__all__ = ["LanguageModelSystem", "TokenStreamDataModule"]
