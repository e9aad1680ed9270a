"""Rhythm-controlled MusicGen (FilmComposer)."""
