"""Trails with boto3 and the aws CLI: every operation, its defaults and errors; delivery of
AWS-format log files to the embedded store and to a real S3-compatible server; notifications."""
import collections
import datetime
import http.server
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, MotoS3, Server, read_log_files, record

FAST = "[trails]\nflush_interval_secs = 1\n"
KEY_RE = re.compile(
    r"^(?:(?P<prefix>.+)/)?AWSLogs/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=acct)_CloudTrail_(?P=region)_(?P=y)(?P=m)(?P=d)T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture
def srv(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml=FAST).start()
    s.s3().create_bucket(Bucket="trail-logs")
    yield s
    s.close()


def test_create_get_describe_list_update_delete(srv):
    ct = srv.client()
    out = ct.create_trail(Name="audit", S3BucketName="trail-logs", S3KeyPrefix="team",
                          TagsList=[{"Key": "env", "Value": "prod"}])
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit"
    del out["ResponseMetadata"]
    assert out == {"Name": "audit", "S3BucketName": "trail-logs", "S3KeyPrefix": "team", "IncludeGlobalServiceEvents": True,
                   "IsMultiRegionTrail": False, "TrailARN": arn, "LogFileValidationEnabled": False, "IsOrganizationTrail": False}
    trail = ct.get_trail(Name="audit")["Trail"]
    assert trail["HomeRegion"] == "us-east-1" and trail["HasCustomEventSelectors"] is False and trail["HasInsightSelectors"] is False
    assert ct.get_trail(Name=arn)["Trail"] == trail
    assert ct.describe_trails()["trailList"] == [trail]
    assert ct.describe_trails(trailNameList=["audit", "nope"])["trailList"] == [trail]
    assert ct.list_trails()["Trails"] == [{"TrailARN": arn, "Name": "audit", "HomeRegion": "us-east-1"}]
    status = ct.get_trail_status(Name="audit")
    assert status["IsLogging"] is False and status["TimeLoggingStarted"] == ""
    up = ct.update_trail(Name="audit", S3KeyPrefix="", EnableLogFileValidation=True)
    assert "S3KeyPrefix" not in up and up["LogFileValidationEnabled"] is True
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"] == [{"ResourceId": arn, "TagsList": [{"Key": "env", "Value": "prod"}]}]
    ct.delete_trail(Name="audit")
    assert ct.describe_trails()["trailList"] == []
    c, m = code(lambda: ct.get_trail(Name="audit"))
    assert (c, m) == ("TrailNotFoundException", f"Unknown trail: {arn} for the user: {ACCOUNT}")


@pytest.mark.parametrize("kw,expected", [
    ({"Name": "ab"}, "InvalidTrailNameException"),
    ({"Name": "bad name"}, "InvalidTrailNameException"),
    ({"Name": "-dash"}, "InvalidTrailNameException"),
    ({"Name": "a..b"}, "InvalidTrailNameException"),
    ({"Name": "192.168.0.1"}, "InvalidTrailNameException"),
    ({"S3BucketName": "Bad_Bucket"}, "InvalidS3BucketNameException"),
    ({"S3BucketName": "no-such-bucket"}, "S3BucketDoesNotExistException"),
    ({"S3KeyPrefix": "p" * 201}, "InvalidS3PrefixException"),
    ({"IsMultiRegionTrail": True, "IncludeGlobalServiceEvents": False}, "InvalidParameterCombinationException"),
    ({"SnsTopicName": "not a topic!"}, "InvalidSnsTopicNameException"),
    ({"SnsTopicName": "undeclared"}, "InsufficientSnsTopicPolicyException"),
    ({"KmsKeyId": "not-a-key"}, "InvalidKmsKeyIdException"),
    ({"KmsKeyId": "alias/logs"}, "KmsKeyNotFoundException"),
    ({"CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/r"}, "InvalidParameterCombinationException"),
    ({"CloudWatchLogsLogGroupArn": "group", "CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/r"}, "InvalidCloudWatchLogsLogGroupArnException"),
    ({"IsOrganizationTrail": True}, "OrganizationsNotInUseException"),
    ({"TagsList": [{"Key": "aws:reserved", "Value": "x"}]}, "InvalidTagParameterException"),
])
def test_create_trail_errors(srv, kw, expected):
    args = {"Name": "audit", "S3BucketName": "trail-logs", **kw}
    c, m = code(lambda: srv.client().create_trail(**args))
    assert c == expected, m
    assert srv.client().describe_trails()["trailList"] == [], "nothing is left behind"


def test_limits_duplicates_and_home_regions(srv):
    ct = srv.client()
    for i in range(5):
        ct.create_trail(Name=f"trail-{i}", S3BucketName="trail-logs")
    assert code(lambda: ct.create_trail(Name="trail-5", S3BucketName="trail-logs"))[0] == "MaximumNumberOfTrailsExceededException"
    c, m = code(lambda: ct.create_trail(Name="trail-0", S3BucketName="trail-logs"))
    assert (c, m) == ("TrailAlreadyExistsException", f"Trail trail-0 already exists for customer: {ACCOUNT}")
    other = srv.client(region="eu-west-1")
    other.create_trail(Name="trail-0", S3BucketName="trail-logs")  # the limit and names are per region
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/trail-1"
    for call in (lambda: other.update_trail(Name=arn, EnableLogFileValidation=True), lambda: other.start_logging(Name=arn),
                 lambda: other.delete_trail(Name=arn)):
        assert code(call)[0] == "InvalidHomeRegionException"
    assert code(lambda: other.get_trail(Name=arn))[0] == "CloudTrailARNInvalidException"
    assert code(lambda: ct.get_trail(Name="arn:aws:s3:::bucket"))[0] == "CloudTrailARNInvalidException"
    assert code(lambda: ct.get_trail_status(Name="ghost"))[0] == "TrailNotFoundException"


def test_multi_region_trails_have_shadow_copies(srv):
    home = srv.client()
    home.create_trail(Name="org-wide", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    elsewhere = srv.client(region="ap-southeast-2")
    [shadow] = elsewhere.describe_trails()["trailList"]
    assert shadow["HomeRegion"] == "us-east-1" and shadow["TrailARN"].startswith("arn:aws:cloudtrail:us-east-1:")
    assert elsewhere.describe_trails(includeShadowTrails=False)["trailList"] == []
    assert elsewhere.get_trail(Name=shadow["TrailARN"])["Trail"]["IsMultiRegionTrail"] is True
    assert code(lambda: elsewhere.delete_trail(Name=shadow["TrailARN"]))[0] == "InvalidHomeRegionException"


def test_event_and_insight_selectors(srv):
    ct = srv.client()
    ct.create_trail(Name="audit", S3BucketName="trail-logs")
    got = ct.get_event_selectors(TrailName="audit")
    assert got["EventSelectors"] == [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [], "ExcludeManagementEventSources": []}]
    basic = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True, "ExcludeManagementEventSources": ["kms.amazonaws.com"],
              "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::data-bucket/"]}]}]
    put = ct.put_event_selectors(TrailName="audit", EventSelectors=basic)
    assert put["EventSelectors"] == basic and "AdvancedEventSelectors" not in put
    assert ct.get_trail(Name="audit")["Trail"]["HasCustomEventSelectors"] is True
    adv = [{"Name": "writes", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]}]}]
    ct.put_event_selectors(TrailName="audit", AdvancedEventSelectors=adv)
    got = ct.get_event_selectors(TrailName="audit")
    assert got["AdvancedEventSelectors"] == adv and "EventSelectors" not in got
    for kw in ({"EventSelectors": basic, "AdvancedEventSelectors": adv},
               {"EventSelectors": [{"DataResources": [{"Type": "AWS::SNS::Topic", "Values": ["arn:aws:sns"]}]}]},
               {"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventName", "Equals": ["x"]}]}]}):
        c, m = code(lambda: ct.put_event_selectors(TrailName="audit", **kw))
        assert c == "InvalidEventSelectorsException" and m
    assert code(lambda: ct.get_insight_selectors(TrailName="audit"))[0] == "InsightNotEnabledException"
    ins = ct.put_insight_selectors(TrailName="audit", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}])
    assert ins["InsightSelectors"] == [{"InsightType": "ApiCallRateInsight"}]
    assert ct.get_trail(Name="audit")["Trail"]["HasInsightSelectors"] is True
    assert code(lambda: ct.put_insight_selectors(TrailName="audit", InsightSelectors=[{"InsightType": "Nope"}]))[0] == "InvalidInsightSelectorsException"
    ct.put_event_selectors(TrailName="audit", EventSelectors=[{"ReadWriteType": "ReadOnly"}])
    assert code(lambda: ct.put_insight_selectors(TrailName="audit", InsightSelectors=[{"InsightType": "ApiCallRateInsight"}]))[0] == "InvalidInsightSelectorsException"
    ct.put_insight_selectors(TrailName="audit", InsightSelectors=[])
    assert code(lambda: ct.get_insight_selectors(TrailName="audit"))[0] == "InsightNotEnabledException"


def test_tags(srv):
    ct = srv.client()
    arn = ct.create_trail(Name="audit", S3BucketName="trail-logs")["TrailARN"]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "a", "Value": "1"}, {"Key": "b"}])
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "a", "Value": "2"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "a", "Value": "2"}, {"Key": "b"}]
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "b"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "a", "Value": "2"}]
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    assert code(lambda: ct.add_tags(ResourceId=arn, TagsList=too_many))[0] == "TagsLimitExceededException"
    assert code(lambda: ct.add_tags(ResourceId=arn, TagsList=[{"Key": "aws:x"}]))[0] == "InvalidTagParameterException"
    assert code(lambda: ct.add_tags(ResourceId=arn.replace("audit", "ghost"), TagsList=[{"Key": "x"}]))[0] == "ResourceNotFoundException"
    assert code(lambda: ct.list_tags(ResourceIdList=["not-an-arn"]))[0] == "CloudTrailARNInvalidException"


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_delivery_to_the_embedded_store_follows_logging_selectors_and_layout(srv):
    ct = srv.client()
    ct.create_trail(Name="audit", S3BucketName="trail-logs", S3KeyPrefix="team")
    before = [record(awsRegion="us-east-1")]
    assert srv.ingest(before).status_code == 200
    ct.start_logging(Name="audit")
    during = [record(awsRegion="us-east-1", eventName=f"Call{i}") for i in range(30)]
    other_region = [record(awsRegion="eu-west-1")]
    data = [record(awsRegion="us-east-1", eventCategory="Data", managementEvent=False)]
    assert srv.ingest(during + other_region + data).status_code == 200
    s3 = srv.s3()
    files = wait_for(lambda: (f := read_log_files(s3, "trail-logs")) and sum(len(r) for r in f.values()) >= 31 and f)
    ct.stop_logging(Name="audit")
    after = [record(awsRegion="us-east-1", eventName="AfterStop")]
    assert srv.ingest(after).status_code == 200
    time.sleep(2.5)
    files = read_log_files(s3, "trail-logs")
    delivered = [r for recs in files.values() for r in recs]
    ids = collections.Counter(r["eventID"] for r in delivered)
    assert all(n == 1 for n in ids.values()), "each event in exactly one file"
    for r in during:
        assert ids[r["eventID"]] == 1
    for r in before + other_region + data + after:
        assert r["eventID"] not in ids, r["eventName"]
    names = [r["eventName"] for r in delivered if r.get("eventSource") == "cloudtrail.amazonaws.com"]
    assert "StartLogging" in names and "StopLogging" in names, "the trail's own calls are delivered too"
    for key in files:
        m = KEY_RE.match(key)
        assert m and m["prefix"] == "team" and m["acct"] == ACCOUNT and m["region"] == "us-east-1", key
    status = ct.get_trail_status(Name="audit")
    assert status["IsLogging"] is False and isinstance(status["LatestDeliveryTime"], datetime.datetime)
    assert status["TimeLoggingStopped"] != "" and "LatestDeliveryError" not in status


def test_files_close_at_their_event_limit_even_within_one_large_ingest(tmp_path):
    """Files close at max_events_per_file exactly, though delivery reads the journal in
    chunks of thousands of events: one 2,000-record request yields files of at most 150."""
    s = Server(data_dir=str(tmp_path), config_toml=FAST + "max_events_per_file = 150\n").start()
    try:
        ct, s3 = s.client(), s.s3()
        s3.create_bucket(Bucket="trail-logs")
        ct.create_trail(Name="audit", S3BucketName="trail-logs")
        ct.start_logging(Name="audit")
        batch = [record(awsRegion="us-east-1", eventName=f"Bulk{i}") for i in range(2000)]
        assert s.ingest(batch).status_code == 200
        files = wait_for(lambda: (f := read_log_files(s3, "trail-logs"))
                         and sum(r["eventName"].startswith("Bulk") for recs in f.values() for r in recs) == 2000 and f)
        sizes = sorted(len(recs) for recs in files.values())
        assert max(sizes) <= 150, sizes
        assert sum(sizes) >= 2000 and len(sizes) >= 14, sizes
    finally:
        s.close()


def test_multi_region_and_data_event_trails(srv):
    ct = srv.client()
    ct.create_trail(Name="everywhere", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    ct.put_event_selectors(TrailName="everywhere", EventSelectors=[{"IncludeManagementEvents": False, "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::wanted/"]}]}])
    ct.start_logging(Name="everywhere")
    def obj(bucket, region):
        return record(awsRegion=region, eventCategory="Data", managementEvent=False, eventName="PutObject",
                      resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/k"}, {"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
    wanted = [obj("wanted", "us-east-1"), obj("wanted", "eu-west-1"), obj("wanted", "ap-south-1")]
    unwanted = [obj("other", "us-east-1"), record(awsRegion="eu-west-1")]
    assert srv.ingest(wanted + unwanted).status_code == 200
    files = wait_for(lambda: (f := read_log_files(srv.s3(), "trail-logs")) and sum(len(r) for r in f.values()) >= 3 and f)
    by_region = {KEY_RE.match(k)["region"]: [r["eventID"] for r in recs] for k, recs in files.items()}
    assert by_region == {"us-east-1": [wanted[0]["eventID"]], "eu-west-1": [wanted[1]["eventID"]], "ap-south-1": [wanted[2]["eventID"]]}


ORG_KEY_RE = re.compile(
    r"^AWSLogs/(?P<org>o-[a-z0-9]+)/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"(?P=acct)_CloudTrail_(?P=region)_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")


def test_organization_trails_log_member_accounts_under_the_organization_layout(tmp_path):
    org, member, outsider = "o-a1b2c3d4e5", "111122223333", "999988887777"
    s = Server(data_dir=str(tmp_path), config_toml=FAST + f"""
[organization]
id = "{org}"
management_account = "{ACCOUNT}"
member_accounts = ["{ACCOUNT}", "{member}"]
""").start()
    try:
        s.s3().create_bucket(Bucket="org-logs")
        s.s3().create_bucket(Bucket="own-logs")
        ct = s.client()
        out = ct.create_trail(Name="org", S3BucketName="org-logs", IsOrganizationTrail=True, IsMultiRegionTrail=True)
        assert out["IsOrganizationTrail"] is True and ct.get_trail(Name="org")["Trail"]["IsOrganizationTrail"] is True
        ct.create_trail(Name="own", S3BucketName="own-logs", IsMultiRegionTrail=True)
        ct.start_logging(Name="org")
        ct.start_logging(Name="own")
        mine = record(awsRegion="us-east-1", eventName="Mine")
        theirs = record(awsRegion="eu-west-1", eventName="Theirs", recipientAccountId=member)
        stranger = record(awsRegion="us-east-1", eventName="Stranger", recipientAccountId=outsider)
        assert s.ingest([mine, theirs, stranger]).status_code == 200
        files = wait_for(lambda: (f := read_log_files(s.s3(), "org-logs"))
                         and {r["eventName"] for recs in f.values() for r in recs} >= {"Mine", "Theirs"} and f)
        own = wait_for(lambda: (f := read_log_files(s.s3(), "own-logs"))
                       and "Mine" in {r["eventName"] for recs in f.values() for r in recs} and f)
        time.sleep(1.5)
        files = read_log_files(s.s3(), "org-logs")
        where = {}
        for key, recs in files.items():
            m = ORG_KEY_RE.match(key)
            assert m and m["org"] == org, key
            for r in recs:
                where[r["eventName"]] = (m["acct"], m["region"])
                assert r["recipientAccountId"] == m["acct"], "each account's events land under that account"
        assert where["Mine"] == (ACCOUNT, "us-east-1") and where["Theirs"] == (member, "eu-west-1")
        assert "Stranger" not in where, "accounts outside the organization are not logged"
        own_names = {r["eventName"] for recs in own.values() for r in recs}
        assert "Theirs" not in own_names and "Stranger" not in own_names, "a plain trail logs only its own account"
        assert all(KEY_RE.match(k)["acct"] == ACCOUNT for k in own)
        ct.update_trail(Name="org", IsOrganizationTrail=False)
        assert ct.get_trail(Name="org")["Trail"]["IsOrganizationTrail"] is False
    finally:
        s.close()


def test_only_the_management_account_creates_organization_trails(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml=FAST + """
[organization]
id = "o-a1b2c3d4e5"
management_account = "444455556666"
member_accounts = ["444455556666"]
""").start()
    try:
        s.s3().create_bucket(Bucket="org-logs")
        ct = s.client()
        c, m = code(lambda: ct.create_trail(Name="org", S3BucketName="org-logs", IsOrganizationTrail=True))
        assert c == "NotOrganizationMasterAccountException" and ACCOUNT in m
        ct.create_trail(Name="plain", S3BucketName="org-logs")
        c, _ = code(lambda: ct.update_trail(Name="plain", IsOrganizationTrail=True))
        assert c == "NotOrganizationMasterAccountException"
        assert ct.get_trail(Name="plain")["Trail"]["IsOrganizationTrail"] is False, "the failed update changed nothing"
        assert [t["Name"] for t in ct.describe_trails()["trailList"]] == ["plain"]
    finally:
        s.close()


def test_bucket_policies_are_checked(srv):
    s3 = srv.s3()
    s3.create_bucket(Bucket="locked")
    s3.put_bucket_policy(Bucket="locked", Policy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "*", "Resource": "*"}]}))
    c, m = code(lambda: srv.client().create_trail(Name="audit", S3BucketName="locked"))
    assert (c, m) == ("InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: locked")
    s3.put_bucket_policy(Bucket="locked", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck20150319", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::locked"},
        {"Sid": "AWSCloudTrailWrite20150319", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::locked/AWSLogs/{ACCOUNT}/*", "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}))
    srv.client().create_trail(Name="audit", S3BucketName="locked")


class Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append((dict(self.headers), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_notifications_reach_subscribers_and_failures_show_in_status(tmp_path):
    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    port = hook.server_address[1]
    s = Server(data_dir=str(tmp_path), config_toml=FAST + f'''
[[sns_topics]]
name = "trail-notices"
subscribers = ["http://127.0.0.1:{port}/hook"]

[[sns_topics]]
name = "broken"
subscribers = ["http://127.0.0.1:1/nowhere"]
''').start()
    try:
        s.s3().create_bucket(Bucket="trail-logs")
        ct = s.client()
        out = ct.create_trail(Name="audit", S3BucketName="trail-logs", SnsTopicName="trail-notices")
        assert out["SnsTopicARN"] == f"arn:aws:sns:us-east-1:{ACCOUNT}:trail-notices"
        ct.start_logging(Name="audit")
        s.ingest([record(awsRegion="us-east-1")])
        headers, env = wait_for(lambda: Hook.received and Hook.received[-1])
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert env["Type"] == "Notification" and env["TopicArn"] == out["SnsTopicARN"]
        msg = json.loads(env["Message"])
        assert msg["s3Bucket"] == "trail-logs"
        keys = set(read_log_files(s.s3(), "trail-logs"))
        assert set(msg["s3ObjectKey"]) <= keys and msg["s3ObjectKey"]
        wait_for(lambda: "LatestNotificationTime" in ct.get_trail_status(Name="audit"))
        ct.update_trail(Name="audit", SnsTopicName="broken")
        s.ingest([record(awsRegion="us-east-1")])
        st = wait_for(lambda: (x := ct.get_trail_status(Name="audit")).get("LatestNotificationError") and x, timeout=40)
        assert "127.0.0.1:1" in st["LatestNotificationError"]
    finally:
        s.close()
        hook.shutdown()


def private_ca(tmp_path):
    """A certificate authority and a certificate it signed for 127.0.0.1 (PEM files)."""
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    def cert(subject, issuer, key, signer, ca, san=None):
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            b = (b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]), critical=False)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        return b.sign(signer, hashes.SHA256())
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("opentrail test CA", "opentrail test CA", ca_key, ca_key, True)
    leaf = cert("127.0.0.1", "opentrail test CA", leaf_key, ca_key, False, san="127.0.0.1")
    paths = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths


def test_https_subscribers_trust_the_topics_certificate_authorities(tmp_path):
    ca, cert, key = private_ca(tmp_path)
    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    hook.socket = ctx.wrap_socket(hook.socket, server_side=True)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{hook.server_address[1]}/hook"
    Hook.received.clear()
    s = Server(data_dir=str(tmp_path / "data"), config_toml=FAST + f'''
[[sns_topics]]
name = "private-ca"
subscribers = ["{url}"]
ca_file = "{ca}"

[[sns_topics]]
name = "system-roots-only"
subscribers = ["{url}"]
''').start()
    try:
        s.s3().create_bucket(Bucket="trail-logs")
        ct = s.client()
        ct.create_trail(Name="audit", S3BucketName="trail-logs", SnsTopicName="private-ca")
        ct.start_logging(Name="audit")
        s.ingest([record(awsRegion="us-east-1")])
        headers, env = wait_for(lambda: Hook.received and Hook.received[-1])
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert set(json.loads(env["Message"])["s3ObjectKey"]) <= set(read_log_files(s.s3(), "trail-logs"))
        assert "LatestNotificationError" not in ct.get_trail_status(Name="audit")
        ct.update_trail(Name="audit", SnsTopicName="system-roots-only")
        s.ingest([record(awsRegion="us-east-1")])
        st = wait_for(lambda: (x := ct.get_trail_status(Name="audit")).get("LatestNotificationError") and x, timeout=40)
        assert "certificate" in st["LatestNotificationError"].lower(), st["LatestNotificationError"]
    finally:
        s.close()
        hook.shutdown()


def test_a_topic_whose_ca_file_is_unreadable_stops_the_server_with_a_clear_message(tmp_path):
    from harness import BIN
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[sns_topics]]\nname = "t"\nsubscribers = ["https://hooks.example/"]\nca_file = "/nonexistent/ca.pem"\n')
    out = subprocess.run([BIN, "serve", "--config", str(cfg), "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "SNS topic t" in out.stderr and "/nonexistent/ca.pem" in out.stderr and "[[sns_topics]]" in out.stderr


def test_delivery_to_a_real_s3_compatible_server_and_recovery_when_it_is_down(tmp_path):
    moto = MotoS3().start()
    try:
        moto.client().create_bucket(Bucket="external-logs")
        s = Server(data_dir=str(tmp_path), config_toml=FAST + f'''
[storage]
kind = "s3"
[storage.s3]
endpoint = "{moto.endpoint}"
region = "us-east-1"
access_key_id = "moto"
secret_access_key = "moto"
''').start()
        try:
            ct = s.client()
            assert code(lambda: ct.create_trail(Name="audit", S3BucketName="missing-bucket"))[0] == "S3BucketDoesNotExistException"
            ct.create_trail(Name="audit", S3BucketName="external-logs")
            ct.start_logging(Name="audit")
            first = [record(awsRegion="us-east-1") for _ in range(5)]
            s.ingest(first)
            files = wait_for(lambda: (f := read_log_files(moto.client(), "external-logs")) and sum(len(r) for r in f.values()) >= 5 and f)
            assert all(KEY_RE.match(k) for k in files)
            got = {r["eventID"]: r for recs in files.values() for r in recs}
            for r in first:
                assert got[r["eventID"]] == r, "records arrive unchanged"
            # The store goes away: delivery retries, says why, and loses nothing.
            moto.stop()
            second = [record(awsRegion="us-east-1") for _ in range(5)]
            s.ingest(second)
            st = wait_for(lambda: (x := ct.get_trail_status(Name="audit")).get("LatestDeliveryError") and x)
            assert st["LatestDeliveryAttemptSucceeded"] == ""
            moto = MotoS3(port=moto.port).start()
            moto.client().create_bucket(Bucket="external-logs")
            files = wait_for(lambda: (f := read_log_files(moto.client(), "external-logs")) and
                             {r["eventID"] for recs in f.values() for r in recs} >= {r["eventID"] for r in second} and f, timeout=60)
            assert "LatestDeliveryError" not in ct.get_trail_status(Name="audit")
        finally:
            s.close()
    finally:
        moto.stop()


def test_aws_s3_cli_reads_the_embedded_store(srv):
    ct = srv.client()
    ct.create_trail(Name="audit", S3BucketName="trail-logs")
    ct.start_logging(Name="audit")
    srv.ingest([record(awsRegion="us-east-1")])
    key = wait_for(lambda: next(iter(read_log_files(srv.s3(), "trail-logs")), None))
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret, AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL_S3=srv.endpoint, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    ls = subprocess.run([aws, "s3", "ls", "--recursive", "s3://trail-logs/"], capture_output=True, text=True, env=env, timeout=60)
    assert ls.returncode == 0 and key in ls.stdout, ls.stderr
    cp = subprocess.run([aws, "s3", "cp", f"s3://trail-logs/{key}", "-"], capture_output=True, env=env, timeout=60)
    assert cp.returncode == 0
    import gzip
    assert json.loads(gzip.decompress(cp.stdout))["Records"]
