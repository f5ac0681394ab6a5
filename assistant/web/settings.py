"""The web product's settings: the one `assistant.config.Settings`, under the name the web layer uses.

Every ``ASSISTANT_*`` variable of the web server (host, port, widget origins, rate limit,
question log, staff sign-in, connection limits, …) is a field of `assistant.config.Settings`,
listed with its ``app.py`` flag and default in `assistant.config`'s docstring. Read them
with `assistant.config.get_settings`; ``WebSettings(index_dir=…, reload_interval=0)`` builds
one with fields overridden (tests build apps this way).
"""

from __future__ import annotations

from assistant.config import Settings, get_settings

#: The web layer's name for `assistant.config.Settings` (the same class).
WebSettings = Settings

__all__ = ["WebSettings", "get_settings"]
