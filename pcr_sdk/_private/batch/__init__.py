"""One batch's state and the workflows over the services: ledger, manifest, submit, wait, rerun."""
