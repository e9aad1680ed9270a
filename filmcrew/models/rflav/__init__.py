"""RFLAV's modules: the FLAV transformer, its key map, the vocoder."""
