"""Shared runtime pieces for the cdk-ml-data-jobs Lambda functions.

Everything here depends on the Python standard library and boto3/botocore only,
and does no work at import time beyond defining names.
"""
