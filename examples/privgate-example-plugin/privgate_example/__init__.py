"""An example third-party privgate plugin package (see README.md, the plugin tutorial)."""

__version__ = "0.1.0"
