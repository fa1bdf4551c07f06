"""Pixels only: Ken Burns motion, blending, overlays, text raster."""
