"""privgate's built-in report writers (HTML, JUnit, comparison) and report sections, registered
through the ``privgate`` entry-point group like any third-party plugin. The HTML pages draw every
attack and metric from the typed evidence and figures of the result contract, and are translated
through the gettext catalogs under ``locale/`` (see :mod:`.i18n`)."""
