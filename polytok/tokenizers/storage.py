"""Save a tokenizer next to a checkpoint and load it back, offline.

A tokenizer directory holds ``tokenizer_config.json`` (the tokenizer's spec, see
`polytok.tokenizers.base`) and, for Hugging Face / byte-BPE tokenizers, the native
``tokenizer.json`` so other tools (``tokenizers.Tokenizer.from_file``, transformers) can read it.
Files are written atomically (temporary file in the same directory, then ``os.replace``) with the
shared helpers of `polytok.saving`; the config keeps its own ``format_version``. The directory
itself is not swapped in whole: it usually lives inside a model directory that is.
"""

from __future__ import annotations

from pathlib import Path

from polytok.atomic import write_text_atomic
from polytok.saving import check_format_version, read_json, write_json
from polytok.tokenizers.base import TextTokenizer, tokenizer_from_spec

CONFIG_FILE = "tokenizer_config.json"
NATIVE_FILE = "tokenizer.json"
FORMAT_VERSION = 1


RELATIVE_FILE_KEYS = ("tape",)  # spec keys naming a file saved inside the tokenizer directory


def _resolve_files(spec: dict, directory: Path) -> dict:
    """Spec with relative file paths (copied in by ``save_files``) made relative to ``directory``."""
    if not isinstance(spec, dict):
        return spec  # tokenizer_from_spec names the problem
    spec = dict(spec)
    for key in RELATIVE_FILE_KEYS:
        value = spec.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            spec[key] = str(directory / value)
    return spec


def save_tokenizer(tokenizer: TextTokenizer, directory: str | Path) -> Path:
    """Write ``tokenizer_config.json`` (plus ``tokenizer.json`` for hf/bpe) into ``directory``.

    Returns:
        The path of ``tokenizer_config.json``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_files = getattr(tokenizer, "save_files", None)  # copies files it needs (glyph tape)
    spec = save_files(directory) if callable(save_files) else tokenizer.to_spec()
    native = spec.get("tokenizer_json")
    if isinstance(native, str):
        write_text_atomic(directory / NATIVE_FILE, native)
    config = {"format_version": FORMAT_VERSION, "spec": spec}
    # Written last: a directory with a config is complete.
    write_json(directory / CONFIG_FILE, config, indent=1)
    return directory / CONFIG_FILE


def load_tokenizer(directory: str | Path) -> TextTokenizer:
    """Load what `save_tokenizer` wrote; a directory with only ``tokenizer.json`` (a Hugging Face
    tokenizer directory) loads as an `HFTokenizer`.

    Raises:
        FileNotFoundError: neither file exists in ``directory``.
        ValueError: the config is not valid JSON or has an unknown format version or spec type.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    if config_path.is_file():
        config = read_json(config_path, what="tokenizer", kind=object)
        if isinstance(config, dict) and "format_version" in config:
            check_format_version(config["format_version"], FORMAT_VERSION, config_path)
            try:
                return tokenizer_from_spec(_resolve_files(config.get("spec"), directory))
            except ValueError as e:
                raise ValueError(f"{config_path}: {e}") from e
        # a transformers tokenizer_config.json (no polytok spec): fall through to tokenizer.json
    if (directory / NATIVE_FILE).is_file():
        from polytok.tokenizers.hf import HFTokenizer

        return HFTokenizer.from_dir(directory)
    raise FileNotFoundError(
        f"no tokenizer in {directory}: expected {CONFIG_FILE} (written by "
        f"polytok.tokenizers.save_tokenizer) or a Hugging Face {NATIVE_FILE}"
    )
