"""What the submitting side and the worker share: AWS facts, the S3 layout, packing, JSON.

Standard library only (and `pcr_sdk._private.errors`): a job's container imports these through
`pcr_sdk.worker`, so nothing here may load boto3's services, pydantic or the submitting side
(tests/meta/test_import_contract.py holds the rule).
"""
