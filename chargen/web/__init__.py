"""The chargen web app (Gradio): a phone-style keyboard, streaming generation, training in the
background and a model card. UI only: every computation is a call into the library.

``render`` builds the HTML, ``handlers`` answer the events and the keyboard API, ``layout`` puts
the page together and wires it, ``server`` launches it (``python app.py`` or ``chargen.web.server.main``).

Importing this package sets the offline and tidy defaults before Gradio loads (RECIPES.md): no
analytics, no hub calls, Gradio's temp files inside the project (a checkout's ``.gradio/``, or the
system's temp folder when chargen is installed). The bundled checkpoints and corpora are found with
``chargen.resources`` (a checkout's, or an installed wheel's).
"""
import os
import tempfile
from pathlib import Path

from ..resources import checkout

_TMP = checkout() / ".gradio" / "tmp" if checkout() else Path(tempfile.gettempdir()) / "chargen-gradio"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_TEMP_DIR", str(_TMP))
