"""The reference cloud platform: `hallctl cloud-sim`."""
