"""The engine is a library without a user interface: importing all of it loads no Textual nor plotext.
(rich may appear: scikit-learn imports it for its own progress callbacks.)"""

import subprocess
import sys

from tests.conftest import REPO


def test_engine_never_imports_textual():
    code = ("import sys, engine.jobs.runner, engine.store.summary, engine.store.runs, engine.training.train, engine.training.data, engine.training.models, engine.analysis.screening, engine.analysis.bootstrap; "
            "print([m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext', 'plotext')])")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_numerical_modules_read_no_store():
    """Intervals and screening work on arrays; reading runs for them is engine.store.summary's, beside the store."""
    code = "import sys, engine.analysis.bootstrap, engine.analysis.screening; print('engine.store' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
