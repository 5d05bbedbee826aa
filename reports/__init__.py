"""privgate's built-in report writers (HTML, JSON, JUnit) and report sections, registered through
the ``privgate`` entry-point group like any third-party plugin."""
