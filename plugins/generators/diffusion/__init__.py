"""``dpsgd-diffusion``: a TabDDPM-style tabular diffusion model trained with DP-SGD
(:mod:`privgate.dp`).

``encoding`` scales numbers and codes categories from the declared domain only, ``model`` holds
the noise schedule, denoiser, per-row loss and sampler, ``generator`` the
:class:`~privgate.dp.DPSGDGenerator`.
"""
