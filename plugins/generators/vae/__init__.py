"""``dpsgd-vae``: a tabular (conditional) VAE trained with DP-SGD (:mod:`privgate.dp`).

``encoding`` turns a table into the VAE's blocks from the declared domain only, ``model`` holds
the network and its per-row loss, ``generator`` the :class:`~privgate.dp.DPSGDGenerator`.
"""
