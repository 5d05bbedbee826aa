"""privgate's built-in generators, metrics and policies, registered through the ``privgate``
entry-point group like any third-party plugin."""
