"""What a trained model learned: latent codes and probes, adversary saliency, interpolation."""
