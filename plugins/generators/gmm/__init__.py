"""``gmm``: a Gaussian mixture on the declared-domain encoding (non-private baseline)."""
