"""WISA: physics-aware text-to-video (pipeline, weights, LoRA training)."""
