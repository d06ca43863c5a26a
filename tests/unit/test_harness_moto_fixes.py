"""The harness's ``partition_queries``: a DynamoDB query on the table's key answers exactly as moto's own, reading
only the queried partition (index queries and scans are left to moto)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from tests.harness import moto_fixes

QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "req-003"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "req-003"}},
     "ScanIndexForward": False, "ConsistentRead": True},
    {"KeyConditionExpression": "pk = :p AND begins_with(sk, :t)",
     "ExpressionAttributeValues": {":p": {"S": "req-007"}, ":t": {"S": "target#"}}},
    {"KeyConditionExpression": "pk = :p", "FilterExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "status"},
     "ExpressionAttributeValues": {":p": {"S": "req-001"}, ":s": {"S": "QUEUED"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "req-404"}}},
    {"KeyConditionExpression": "g = :g", "IndexName": "queued", "ExpressionAttributeValues": {":g": {"S": "group-1"}}},
]


def _pages(client, query: dict, limit: int | None) -> list[dict]:
    pages, start = [], None
    while True:
        page = client.query(TableName="ledger", **query, **({"Limit": limit} if limit else {}),
                            **({"ExclusiveStartKey": start} if start else {}))
        pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.fixture
def ledger():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="ledger", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "queued", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                   {"AttributeName": "pk", "KeyType": "RANGE"}]}])
        for r in range(12):
            client.put_item(TableName="ledger", Item={"pk": {"S": f"req-{r:03d}"}, "sk": {"S": "request"},
                                                      "status": {"S": "QUEUED"}})
            for g in range(3):
                client.put_item(TableName="ledger", Item={
                    "pk": {"S": f"req-{r:03d}"}, "sk": {"S": f"target#{g}"}, "g": {"S": f"group-{g}"},
                    "status": {"S": "QUEUED" if (r + g) % 2 else "IN_PROGRESS"}})
        yield client


@pytest.mark.parametrize("limit", [None, 1, 2])
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.get("IndexName", "") + q["KeyConditionExpression"])
def test_the_same_answer_as_moto_page_by_page(ledger, query, limit):
    expected = _pages(ledger, query, limit)
    with moto_fixes.partition_queries():
        assert _pages(ledger, query, limit) == expected


def test_a_query_on_the_tables_key_no_longer_reads_the_whole_table(ledger, monkeypatch):
    gathered: list[int] = []
    original = Table.all_items

    def counting(self):
        items = original(self)
        gathered.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting)
    ledger.query(TableName="ledger", **QUERIES[0])
    assert gathered == [48]  # moto alone: every item of the table
    gathered.clear()
    with moto_fixes.partition_queries():
        assert Table.all_items is not counting
        ledger.query(TableName="ledger", **QUERIES[0])
        ledger.query(TableName="ledger", **QUERIES[-1])  # an index query: moto's own path, whole table
    assert gathered == [48]
    assert Table.all_items is counting  # put back on exit
