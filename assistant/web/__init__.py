"""The web product: staff chat, policy viewer, parent widget and HTTP API in one ASGI app.

``create_app(get_settings())`` loads the index once and returns the FastAPI app (Gradio
mounted at ``/``); ``python app.py`` serves it with uvicorn. See `server` for the routes
and `assistant.config` for the ``ASSISTANT_*`` environment variables.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing may phone home; set before gradio loads

from .holder import AssistantHolder
from .settings import WebSettings

__all__ = ["AssistantHolder", "WebSettings", "create_app"]


def __getattr__(name: str):
    """``create_app`` on first use (PEP 562 module ``__getattr__``).

    It imports Gradio (~6 s here), which the page renderers, settings and unit tests importing
    this package do not need.
    """
    if name == "create_app":
        from .server import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
