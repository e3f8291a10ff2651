"""Implementation modules of pcr-sdk; import from `pcr_sdk` instead."""
