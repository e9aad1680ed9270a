"""REGEN: compact video latents with a generative decoder."""
