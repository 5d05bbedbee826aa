"""privgate's built-in privacy attacks, registered through the ``privgate`` entry-point group
like any third-party plugin."""
