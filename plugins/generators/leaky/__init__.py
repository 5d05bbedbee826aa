"""``leaky``: FOR CALIBRATION ONLY, NOT PRIVATE -- copies a fraction of the training rows."""
