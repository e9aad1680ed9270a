"""WISA's modules: the physics module, the transformer, the checkpoint key map."""
