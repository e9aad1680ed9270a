"""RFLAV: endless joint audio+video by rolling flow matching."""
