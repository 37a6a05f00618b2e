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
