"""Flask HTTPS Launcher: serve a Flask app on HTTP and HTTPS at once, with a local CA.

The core modules (``certs``, ``servers``, ``tls``, ``requestlog``, ``inspector``) do not import Qt;
the GUI (``launcher.gui``) and the headless CLI (``launcher.cli``) both drive them.
"""

from __future__ import annotations

__version__ = "0.1.0"
