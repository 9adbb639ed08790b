"""The chat page (Gradio) and the HTTP JSON API of the ``rag`` library, served together by ``rag serve``.

They use the library through its facade only (``from rag import …``; tests/test_architecture.py).
"""

import os

# The one place analytics are turned off for the page: this package is imported before Gradio is, and
# Gradio reads the variable when it is imported (the page also passes analytics_enabled=False).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("FASTAPI_OTEL_AUTO_CONFIGURE", "false")  # FastAPI's OpenTelemetry exporter stays off
