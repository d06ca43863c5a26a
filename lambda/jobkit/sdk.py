"""The API operations each workflow calls and the first botocore that has them.

Lambda runtimes bundle a boto3 that lags behind and differs by Region; the
functions check these at first use (``clients.require_operations``) instead of
shipping an SDK layer.
"""

from __future__ import annotations

#: Personalize data deletion: CreateDataDeletionJob and friends arrived in botocore 1.34.97.
DELETION_OPERATIONS = ("CreateDataDeletionJob", "DescribeDataDeletionJob", "ListDataDeletionJobs")
DELETION_MIN_BOTOCORE = "1.34.97"

#: Clean Rooms ML audience export: the cleanroomsml service arrived in botocore 1.33.3.
EXPORT_OPERATIONS = ("StartAudienceExportJob", "ListAudienceExportJobs", "GetAudienceGenerationJob",
                     "GetConfiguredAudienceModel")
EXPORT_MIN_BOTOCORE = "1.33.3"
