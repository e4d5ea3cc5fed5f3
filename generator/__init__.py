"""The reference text-to-video generator (video VAE, spacetime patches, diffusion transformer)."""
