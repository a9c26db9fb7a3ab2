"""gdlib: reproduction package for Liang et al. 2024, How Diffusion Models Learn to Factorize and Compose."""

__version__ = "0.1.0"
