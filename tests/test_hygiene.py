"""The engine is a library without a user interface: importing all of it loads no Textual nor plotext.
(rich may appear: scikit-learn imports it for its own progress callbacks.)"""

import subprocess
import sys

from tests.conftest import REPO


def test_engine_never_imports_textual():
    code = ("import sys, engine.runner, engine.summary, engine.store, engine.train, engine.data, engine.models, engine.screening, engine.bootstrap; "
            "print([m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext', 'plotext')])")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
