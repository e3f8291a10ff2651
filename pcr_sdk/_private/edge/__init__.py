"""Talking to AWS: clients, hooks on pcr-sdk's own requests, the rate governor, lost answers."""
