import subprocess
import sys

import polytok


def test_import_polytok_does_not_import_lightning_or_hydra():
    code = "import sys, polytok; print(sorted(m for m in ('lightning', 'hydra', 'pytorch_lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_resolves_lazily():
    assert polytok.__version__
    for name in ("get_tokenizer", "generate", "from_pretrained", "save_pretrained", "build_model"):
        assert callable(getattr(polytok, name))
    try:
        polytok.not_a_thing  # noqa: B018
    except AttributeError as err:
        assert "not_a_thing" in str(err)
    else:
        raise AssertionError("unknown attribute must raise AttributeError")


LIGHTNING_EXPORTS = {"LanguageModelSystem", "TokenStreamDataModule"}


def test_every_export_resolves_and_only_lightning_parts_import_lightning():
    light = [n for n in polytok.__all__ if n != "__version__" and n not in LIGHTNING_EXPORTS]
    code = (
        "import sys, polytok\n"
        f"for name in {light!r}:\n"
        "    assert getattr(polytok, name) is not None, name\n"
        "print(sorted(m for m in ('lightning', 'hydra') if m in sys.modules))\n"
        f"for name in {sorted(LIGHTNING_EXPORTS)!r}:\n"
        "    assert getattr(polytok, name) is not None, name\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
