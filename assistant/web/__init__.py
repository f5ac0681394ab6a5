"""The web product: staff chat, policy viewer, parent widget and HTTP API in one ASGI app.

``create_app(WebSettings())`` loads the index once and returns the FastAPI app (Gradio
mounted at ``/``); ``python app.py`` serves it with uvicorn. See `server` for the routes
and `settings` for the ``ASSISTANT_*`` environment variables.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may phone home; set before gradio loads

from .holder import AssistantHolder
from .server import create_app
from .settings import WebSettings

__all__ = ["AssistantHolder", "WebSettings", "create_app"]
