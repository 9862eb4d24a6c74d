"""CloudTrail Lake event data stores with boto3 and the aws CLI: every management operation,
its defaults and errors (with their exact exception names), termination protection, deletion
and restore, ingestion on and off, the ten-store limit, tags, and that a refused request
changes nothing."""
import datetime
import json
import os
import re
import subprocess
import sys

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, Server

REGION = "us-east-1"
DEFAULT_SELECTORS = [{"Name": "Default management events",
                      "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
ARN_RE = re.compile(rf"^arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/"
                    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
INSIGHT_SELECTORS = [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Insight"]}]}]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def unchecked(srv, region=REGION):
    """A client that sends values boto3 itself would refuse (too short, below minimum)."""
    return boto3.client("cloudtrail", endpoint_url=srv.endpoint, region_name=region,
                        aws_access_key_id=srv.key, aws_secret_access_key=srv.secret,
                        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))


def strip(resp):
    resp = dict(resp)
    resp.pop("ResponseMetadata", None)
    return resp


def aws(srv, *args, region=REGION):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret,
               AWS_DEFAULT_REGION=region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cmd = [os.path.join(os.path.dirname(sys.executable), "aws"), "cloudtrail", *args,
           "--endpoint-url", srv.endpoint, "--output", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def srv(tmp_path):
    s = Server(data_dir=str(tmp_path)).start()
    yield s
    s.close()


def test_create_get_list_with_aws_defaults(srv):
    ct = srv.client()
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    out = strip(ct.create_event_data_store(Name="audit"))
    arn = out["EventDataStoreArn"]
    eds_id = ARN_RE.match(arn).group(1)
    created, updated = out.pop("CreatedTimestamp"), out.pop("UpdatedTimestamp")
    assert before < created <= updated < before + datetime.timedelta(minutes=1)
    assert out == {"EventDataStoreArn": arn, "Name": "audit", "Status": "ENABLED",
                   "AdvancedEventSelectors": DEFAULT_SELECTORS, "MultiRegionEnabled": True,
                   "OrganizationEnabled": False, "RetentionPeriod": 366, "TerminationProtectionEnabled": True,
                   "BillingMode": "EXTENDABLE_RETENTION_PRICING"}
    got = strip(ct.get_event_data_store(EventDataStore=arn))
    assert got == {**out, "CreatedTimestamp": created, "UpdatedTimestamp": updated, "FederationStatus": "DISABLED"}
    assert strip(ct.get_event_data_store(EventDataStore=eds_id)) == got, "the ID suffix works as well as the ARN"
    assert strip(ct.list_event_data_stores()) == {"EventDataStores": [{"EventDataStoreArn": arn, "Name": "audit"}]}
    # Stores are regional.
    assert strip(srv.client(region="eu-west-1").list_event_data_stores()) == {"EventDataStores": []}
    c, m = code(lambda: srv.client(region="eu-west-1").get_event_data_store(EventDataStore=arn))
    assert c == "EventDataStoreNotFoundException" and arn in m
    # The timestamps are epoch numbers on the wire.
    raw = srv.api("GetEventDataStore", {"EventDataStore": arn}).json()
    assert isinstance(raw["CreatedTimestamp"], (int, float)) and isinstance(raw["UpdatedTimestamp"], (int, float))


def test_create_with_every_parameter(srv):
    ct = srv.client()
    key = srv.client("kms").create_key(Description="lake")["KeyMetadata"]
    srv.client("kms").create_alias(AliasName="alias/lake", TargetKeyId=key["KeyId"])
    selectors = [
        {"Name": "writes", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                              {"Field": "readOnly", "Equals": ["false"]}]},
        {"Name": "s3", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                          {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                                          {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::bucket/"]}]},
    ]
    out = strip(ct.create_event_data_store(
        Name="full.store_1", AdvancedEventSelectors=selectors, MultiRegionEnabled=False, OrganizationEnabled=False,
        RetentionPeriod=90, TerminationProtectionEnabled=False, TagsList=[{"Key": "env", "Value": "prod"}],
        KmsKeyId="alias/lake", StartIngestion=False, BillingMode="FIXED_RETENTION_PRICING"))
    out.pop("CreatedTimestamp"), out.pop("UpdatedTimestamp")
    arn = out["EventDataStoreArn"]
    assert out == {"EventDataStoreArn": arn, "Name": "full.store_1", "Status": "STOPPED_INGESTION",
                   "AdvancedEventSelectors": selectors, "MultiRegionEnabled": False, "OrganizationEnabled": False,
                   "RetentionPeriod": 90, "TerminationProtectionEnabled": False,
                   "TagsList": [{"Key": "env", "Value": "prod"}], "KmsKeyId": key["Arn"],
                   "BillingMode": "FIXED_RETENTION_PRICING"}
    got = ct.get_event_data_store(EventDataStore=arn)
    assert got["KmsKeyId"] == key["Arn"] and "TagsList" not in got
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"] == [{"ResourceId": arn, "TagsList": [{"Key": "env", "Value": "prod"}]}]
    fixed = ct.create_event_data_store(Name="fixed", BillingMode="FIXED_RETENTION_PRICING")
    assert fixed["RetentionPeriod"] == 2557 and fixed["Status"] == "ENABLED"


@pytest.mark.parametrize("kw,expected", [
    ({"Name": "ab"}, "InvalidParameterException"),
    ({"Name": "n" * 129}, "InvalidParameterException"),
    ({"Name": "bad name"}, "InvalidParameterException"),
    ({"RetentionPeriod": 6}, "InvalidParameterException"),
    ({"RetentionPeriod": 3654}, "InvalidParameterException"),
    ({"RetentionPeriod": 2558, "BillingMode": "FIXED_RETENTION_PRICING"}, "InvalidParameterException"),
    ({"BillingMode": "CHEAP"}, "InvalidParameterException"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventName", "Equals": ["x"]}]}]}, "InvalidEventSelectorsException"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}, "InvalidEventSelectorsException"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}] * 6}, "InvalidEventSelectorsException"),
    ({"AdvancedEventSelectors": DEFAULT_SELECTORS + INSIGHT_SELECTORS}, "InvalidEventSelectorsException"),
    ({"AdvancedEventSelectors": INSIGHT_SELECTORS, "StartIngestion": False}, "InvalidParameterException"),
    ({"TagsList": [{"Key": "aws:reserved", "Value": "x"}]}, "InvalidTagParameterException"),
    ({"KmsKeyId": "not-a-key"}, "InvalidKmsKeyIdException"),
    ({"KmsKeyId": "alias/missing"}, "KmsKeyNotFoundException"),
    ({"KmsKeyId": MISSING_ID}, "KmsKeyNotFoundException"),
    ({"OrganizationEnabled": True}, "OrganizationsNotInUseException"),
])
def test_create_errors_leave_nothing_behind(srv, kw, expected):
    args = {"Name": "audit", **kw}
    c, m = code(lambda: unchecked(srv).create_event_data_store(**args))
    assert c == expected, m
    assert m
    assert srv.client().list_event_data_stores()["EventDataStores"] == []


def test_lookup_errors(srv):
    ct = srv.client()
    arn = ct.create_event_data_store(Name="audit")["EventDataStoreArn"]
    missing = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/{MISSING_ID}"
    for name in (missing, MISSING_ID, f"arn:aws:cloudtrail:{REGION}:210987654321:eventdatastore/{MISSING_ID}"):
        assert code(lambda: ct.get_event_data_store(EventDataStore=name))[0] == "EventDataStoreNotFoundException"
    for call in (ct.delete_event_data_store, ct.restore_event_data_store, ct.start_event_data_store_ingestion,
                 ct.stop_event_data_store_ingestion):
        assert code(lambda: call(EventDataStore=missing))[0] == "EventDataStoreNotFoundException"
    assert code(lambda: ct.update_event_data_store(EventDataStore=missing, RetentionPeriod=30))[0] == "EventDataStoreNotFoundException"
    for bad in (f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/audit", "arn:aws:s3:::bucket",
                f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/"):
        assert code(lambda: ct.get_event_data_store(EventDataStore=bad))[0] == "EventDataStoreARNInvalidException", bad
    c, m = code(lambda: ct.create_event_data_store(Name="audit"))
    assert c == "EventDataStoreAlreadyExistsException" and "audit" in m
    # Missing required members are the protocol's ValidationException.
    r = srv.api("GetEventDataStore", {})
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException"
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"


def test_ingestion_termination_protection_delete_and_restore(srv):
    ct = srv.client()
    arn = ct.create_event_data_store(Name="audit")["EventDataStoreArn"]
    c, m = code(lambda: ct.start_event_data_store_ingestion(EventDataStore=arn))
    assert c == "InvalidEventDataStoreStatusException" and "ENABLED" in m
    assert strip(ct.stop_event_data_store_ingestion(EventDataStore=arn)) == {}
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "STOPPED_INGESTION"
    assert code(lambda: ct.stop_event_data_store_ingestion(EventDataStore=arn))[0] == "InvalidEventDataStoreStatusException"
    assert strip(ct.start_event_data_store_ingestion(EventDataStore=arn)) == {}
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"

    c, m = code(lambda: ct.delete_event_data_store(EventDataStore=arn))
    assert c == "EventDataStoreTerminationProtectedException" and arn in m
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED", "the refused delete changed nothing"
    assert code(lambda: ct.restore_event_data_store(EventDataStore=arn))[0] == "InvalidEventDataStoreStatusException"

    ct.update_event_data_store(EventDataStore=arn, TerminationProtectionEnabled=False)
    before = ct.get_event_data_store(EventDataStore=arn)
    assert strip(ct.delete_event_data_store(EventDataStore=arn)) == {}
    pending = ct.get_event_data_store(EventDataStore=arn)
    assert pending["Status"] == "PENDING_DELETION" and pending["UpdatedTimestamp"] >= before["UpdatedTimestamp"]
    assert ct.list_event_data_stores()["EventDataStores"] == [{"EventDataStoreArn": arn, "Name": "audit"}]
    assert code(lambda: ct.delete_event_data_store(EventDataStore=arn))[0] == "InactiveEventDataStoreException"
    assert code(lambda: ct.update_event_data_store(EventDataStore=arn, RetentionPeriod=30))[0] == "InactiveEventDataStoreException"
    assert code(lambda: ct.start_event_data_store_ingestion(EventDataStore=arn))[0] == "InvalidEventDataStoreStatusException"
    assert code(lambda: ct.stop_event_data_store_ingestion(EventDataStore=arn))[0] == "InvalidEventDataStoreStatusException"
    assert code(lambda: ct.add_tags(ResourceId=arn, TagsList=[{"Key": "k"}]))[0] == "InactiveEventDataStoreException"
    assert code(lambda: ct.create_event_data_store(Name="audit"))[0] == "EventDataStoreAlreadyExistsException"

    restored = strip(ct.restore_event_data_store(EventDataStore=arn))
    restored.pop("CreatedTimestamp"), restored.pop("UpdatedTimestamp")
    assert restored == {"EventDataStoreArn": arn, "Name": "audit", "Status": "ENABLED",
                        "AdvancedEventSelectors": DEFAULT_SELECTORS, "MultiRegionEnabled": True,
                        "OrganizationEnabled": False, "RetentionPeriod": 366, "TerminationProtectionEnabled": False,
                        "BillingMode": "EXTENDABLE_RETENTION_PRICING"}
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"

    # A store stopped before deletion comes back stopped.
    ct.stop_event_data_store_ingestion(EventDataStore=arn)
    ct.delete_event_data_store(EventDataStore=arn)
    assert ct.restore_event_data_store(EventDataStore=arn)["Status"] == "STOPPED_INGESTION"

    insights = ct.create_event_data_store(Name="insights", AdvancedEventSelectors=INSIGHT_SELECTORS)["EventDataStoreArn"]
    for call in (ct.stop_event_data_store_ingestion, ct.start_event_data_store_ingestion):
        assert code(lambda: call(EventDataStore=insights))[0] == "InvalidEventDataStoreCategoryException"
    config = ct.create_event_data_store(
        Name="config", AdvancedEventSelectors=[{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["ConfigurationItem"]}]}])
    ct.stop_event_data_store_ingestion(EventDataStore=config["EventDataStoreArn"])


def test_ten_stores_per_region_counting_those_pending_deletion(srv):
    ct = srv.client()
    arns = [ct.create_event_data_store(Name=f"eds-{i}", TerminationProtectionEnabled=False)["EventDataStoreArn"]
            for i in range(10)]
    c, m = code(lambda: ct.create_event_data_store(Name="eds-10"))
    assert c == "EventDataStoreMaxLimitExceededException" and m
    ct.delete_event_data_store(EventDataStore=arns[3])
    assert code(lambda: ct.create_event_data_store(Name="eds-10"))[0] == "EventDataStoreMaxLimitExceededException"
    assert ct.restore_event_data_store(EventDataStore=arns[3])["Status"] == "ENABLED"
    assert [s["EventDataStoreArn"] for s in ct.list_event_data_stores()["EventDataStores"]] == arns
    srv.client(region="eu-west-1").create_event_data_store(Name="eds-10")  # the limit is per region


def test_update_changes_only_what_is_given(srv):
    ct = srv.client()
    kms = srv.client("kms")
    key = kms.create_key(Description="lake")["KeyMetadata"]
    other = kms.create_key(Description="other")["KeyMetadata"]
    created = ct.create_event_data_store(Name="audit", KmsKeyId=key["KeyId"])
    arn = created["EventDataStoreArn"]
    original = strip(ct.get_event_data_store(EventDataStore=arn))
    refused = [
        ({}, "InvalidParameterException"),
        ({"BillingMode": "FIXED_RETENTION_PRICING"}, "InvalidParameterException"),
        ({"RetentionPeriod": 3654}, "InvalidParameterException"),
        ({"RetentionPeriod": 3}, "InvalidParameterException"),
        ({"Name": "x"}, "InvalidParameterException"),
        ({"KmsKeyId": other["Arn"]}, "InvalidParameterException"),
        ({"KmsKeyId": "not-a-key"}, "InvalidKmsKeyIdException"),
        ({"AdvancedEventSelectors": INSIGHT_SELECTORS}, "InvalidEventSelectorsException"),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "readOnly", "Equals": ["true"]}]}]}, "InvalidEventSelectorsException"),
        ({"OrganizationEnabled": True}, "OrganizationsNotInUseException"),
    ]
    for kw, expected in refused:
        c, m = code(lambda: unchecked(srv).update_event_data_store(EventDataStore=arn, **kw))
        assert c == expected, (kw, m)
    assert strip(ct.get_event_data_store(EventDataStore=arn)) == original, "refused updates changed nothing"

    ct.create_event_data_store(Name="taken")
    assert code(lambda: ct.update_event_data_store(EventDataStore=arn, Name="taken"))[0] == "EventDataStoreAlreadyExistsException"

    selectors = [{"Name": "reads", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                                      {"Field": "readOnly", "Equals": ["true"]}]}]
    up = strip(ct.update_event_data_store(EventDataStore=arn, Name="renamed", RetentionPeriod=30,
                                          AdvancedEventSelectors=selectors, MultiRegionEnabled=False,
                                          KmsKeyId=key["Arn"]))
    assert up["CreatedTimestamp"] == original["CreatedTimestamp"] and up["UpdatedTimestamp"] >= original["UpdatedTimestamp"]
    for k in ("CreatedTimestamp", "UpdatedTimestamp"):
        up.pop(k), original.pop(k)
    assert up == {**original, "Name": "renamed", "RetentionPeriod": 30, "AdvancedEventSelectors": selectors,
                  "MultiRegionEnabled": False}
    assert up["FederationStatus"] == "DISABLED" and up["KmsKeyId"] == key["Arn"]

    fixed = ct.create_event_data_store(Name="fixed", BillingMode="FIXED_RETENTION_PRICING")["EventDataStoreArn"]
    assert code(lambda: ct.update_event_data_store(EventDataStore=fixed, RetentionPeriod=3000))[0] == "InvalidParameterException"
    out = ct.update_event_data_store(EventDataStore=fixed, BillingMode="EXTENDABLE_RETENTION_PRICING", RetentionPeriod=3000)
    assert (out["BillingMode"], out["RetentionPeriod"]) == ("EXTENDABLE_RETENTION_PRICING", 3000)
    plain = ct.create_event_data_store(Name="plain")["EventDataStoreArn"]
    assert ct.update_event_data_store(EventDataStore=plain, KmsKeyId=other["KeyId"])["KmsKeyId"] == other["Arn"], \
        "a store without a key may get one"


def test_list_pages(srv):
    ct = srv.client()
    arns = [ct.create_event_data_store(Name=f"eds-{i}")["EventDataStoreArn"] for i in range(3)]
    first = ct.list_event_data_stores(MaxResults=2)
    assert [s["EventDataStoreArn"] for s in first["EventDataStores"]] == arns[:2]
    second = ct.list_event_data_stores(MaxResults=2, NextToken=first["NextToken"])
    assert [s["EventDataStoreArn"] for s in second["EventDataStores"]] == arns[2:] and "NextToken" not in second
    assert code(lambda: ct.list_event_data_stores(NextToken="not-a-token"))[0] == "InvalidNextTokenException"
    assert code(lambda: unchecked(srv).list_event_data_stores(MaxResults=0))[0] == "InvalidMaxResultsException"
    assert code(lambda: ct.list_event_data_stores(MaxResults=1001))[0] == "InvalidMaxResultsException"
    other = srv.client(region="eu-west-1")
    assert code(lambda: other.list_event_data_stores(NextToken=first["NextToken"]))[0] == "InvalidNextTokenException"


def test_tags_on_event_data_stores_and_trails(srv):
    ct = srv.client()
    arn = ct.create_event_data_store(Name="audit", TagsList=[{"Key": "env", "Value": "prod"}])["EventDataStoreArn"]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "env", "Value": "dev"}, {"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"] == [
        {"ResourceId": arn, "TagsList": [{"Key": "env", "Value": "dev"}, {"Key": "team"}]}]
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "env", "Value": "dev"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert code(lambda: ct.add_tags(ResourceId=arn, TagsList=too_many))[0] == "TagsLimitExceededException"
    assert code(lambda: ct.add_tags(ResourceId=arn, TagsList=[{"Key": "aws:x"}]))[0] == "InvalidTagParameterException"
    missing = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/{MISSING_ID}"
    assert code(lambda: ct.add_tags(ResourceId=missing, TagsList=[{"Key": "x"}]))[0] == "EventDataStoreNotFoundException"
    assert code(lambda: ct.list_tags(ResourceIdList=[missing]))[0] == "EventDataStoreNotFoundException"
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "env", "Value": "dev"}], \
        "refused tag changes changed nothing"

    # One ListTags call may name trails and stores together.
    srv.s3().create_bucket(Bucket="trail-logs")
    trail = ct.create_trail(Name="audit-trail", S3BucketName="trail-logs", TagsList=[{"Key": "kind", "Value": "trail"}])["TrailARN"]
    assert ct.list_tags(ResourceIdList=[trail, arn])["ResourceTagList"] == [
        {"ResourceId": trail, "TagsList": [{"Key": "kind", "Value": "trail"}]},
        {"ResourceId": arn, "TagsList": [{"Key": "env", "Value": "dev"}]}]
    ct.add_tags(ResourceId=trail, TagsList=[{"Key": "more"}])
    assert len(ct.list_tags(ResourceIdList=[trail])["ResourceTagList"][0]["TagsList"]) == 2


def test_organization_stores_need_the_management_account(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml="""
[organization]
id = "o-a1b2c3d4e5"
management_account = "444455556666"
member_accounts = ["444455556666"]
""").start()
    try:
        ct = s.client()
        c, m = code(lambda: ct.create_event_data_store(Name="org", OrganizationEnabled=True))
        assert c == "NotOrganizationMasterAccountException" and ACCOUNT in m
        assert ct.list_event_data_stores()["EventDataStores"] == []
    finally:
        s.close()


def test_stores_survive_a_restart_and_calls_are_audited(tmp_path):
    s = Server(data_dir=str(tmp_path)).start()
    try:
        ct = s.client()
        arn = ct.create_event_data_store(Name="audit", RetentionPeriod=30)["EventDataStoreArn"]
        ct.stop_event_data_store_ingestion(EventDataStore=arn)
        s.stop()
        s.start()
        got = s.client().get_event_data_store(EventDataStore=arn)
        assert (got["Name"], got["RetentionPeriod"], got["Status"]) == ("audit", 30, "STOPPED_INGESTION")
        [rec] = s.records(eventName="CreateEventDataStore")
        assert rec["requestParameters"] == {"name": "audit", "retentionPeriod": 30}
        assert rec["responseElements"]["eventDataStoreArn"] == arn
        assert rec["readOnly"] is False
    finally:
        s.close()


def test_the_aws_cli_manages_event_data_stores(srv):
    out = aws(srv, "create-event-data-store", "--name", "cli-store", "--retention-period", "30",
              "--no-termination-protection-enabled")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    arn = created["EventDataStoreArn"]
    assert created["Status"] == "ENABLED" and created["TerminationProtectionEnabled"] is False
    listed = json.loads(aws(srv, "list-event-data-stores").stdout)
    assert listed == {"EventDataStores": [{"EventDataStoreArn": arn, "Name": "cli-store"}]}
    got = json.loads(aws(srv, "get-event-data-store", "--event-data-store", arn.rsplit("/", 1)[1]).stdout)
    assert got["RetentionPeriod"] == 30 and got["FederationStatus"] == "DISABLED"
    up = aws(srv, "update-event-data-store", "--event-data-store", arn, "--retention-period", "60")
    assert up.returncode == 0 and json.loads(up.stdout)["RetentionPeriod"] == 60
    assert aws(srv, "stop-event-data-store-ingestion", "--event-data-store", arn).returncode == 0
    assert aws(srv, "start-event-data-store-ingestion", "--event-data-store", arn).returncode == 0
    assert aws(srv, "delete-event-data-store", "--event-data-store", arn).returncode == 0
    again = aws(srv, "delete-event-data-store", "--event-data-store", arn)
    assert again.returncode == 255 and "(InactiveEventDataStoreException) when calling the DeleteEventDataStore operation" in again.stderr
    restored = aws(srv, "restore-event-data-store", "--event-data-store", arn)
    assert restored.returncode == 0 and json.loads(restored.stdout)["Status"] == "ENABLED"
    missing = aws(srv, "get-event-data-store", "--event-data-store", MISSING_ID)
    assert missing.returncode == 255
    assert "An error occurred (EventDataStoreNotFoundException) when calling the GetEventDataStore operation" in missing.stderr
    tags = aws(srv, "add-tags", "--resource-id", arn, "--tags-list", "Key=team,Value=lake")
    assert tags.returncode == 0, tags.stderr
    listed = json.loads(aws(srv, "list-tags", "--resource-id-list", arn).stdout)
    assert listed == {"ResourceTagList": [{"ResourceId": arn, "TagsList": [{"Key": "team", "Value": "lake"}]}]}
