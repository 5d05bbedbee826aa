"""privgate's built-in report writers (HTML, JSON, JUnit, comparison) and report sections,
registered through the ``privgate`` entry-point group like any third-party plugin. The HTML
pages are translated through the gettext catalogs under ``locale/`` (see :mod:`.i18n`)."""
