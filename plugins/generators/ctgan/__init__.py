"""``dpsgd-ctgan``: a CTGAN-style conditional GAN whose discriminator is trained with DP-SGD
(:mod:`privgate.dp`).

``encoding`` is CTGAN's mode-specific normalisation on a public grid and the conditional
vector, ``model`` the generator, discriminator, activations and loss, ``generator`` the
:class:`~privgate.dp.DPSGDGenerator`.
"""
