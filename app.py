"""The chargen web app: ``python app.py`` starts it on http://127.0.0.1:7860 (see ``chargen/web``
for the app itself, and the README's "Web app" section for its flags, environment and API).

    python app.py [--checkpoints DIR] [--host 127.0.0.1] [--port 7860] [--max-upload-mb 50]
"""
from chargen.web.layout import build_demo  # noqa: F401  (the app, for tests and embedding)
from chargen.web.server import main, serve  # noqa: F401

if __name__ == "__main__":
    main()
