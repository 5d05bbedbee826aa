"""``gaussian-copula``: empirical marginals joined by a Gaussian copula (non-private baseline).

``marginals`` turns each column into normal scores and back; ``generator`` holds the copula.
"""
