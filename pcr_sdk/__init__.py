"""pcr-sdk."""
