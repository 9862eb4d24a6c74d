"""Runs aws-cli v1's own validate-logs code against a bucket snapshot and prints what it wrote.

The validator's tests use this (when OPENTRAIL_VALIDATE_ORACLE names a Python with awscli
installed) to check that their expected outputs are what the real CLI prints for the same
buckets. Only the service clients are stubbed: S3 (GetBucketLocation, ListObjects pages
after a Marker, GetObject with NoSuchKey/NoSuchBucket errors), CloudTrail (ListPublicKeys with
epoch-second bounds, DescribeTrails) and Organizations (DescribeOrganization). Argument
handling, traversal, validation and output are awscli.customizations.cloudtrail.validation.

Usage: python cli_oracle.py scenario.json
  scenario: {"buckets": {bucket: {key: {"body": base64, "metadata": {...}}}},
             "keys": [{"Fingerprint", "Value" (base64 DER), "ValidityStartTime",
                       "ValidityEndTime"}],
             "request": {"trail_arn", "start", "end", "bucket", "prefix", "account_id",
                         "org_id", "source_region", "verbose"}}
Prints {"stdout", "stderr", "rc"}; an uncaught exception gives rc 255 and "\\n{e}\\n" on
stderr, as awscli's clidriver writes it.
"""

import argparse
import base64
import calendar
import io
import json
import sys

from botocore.exceptions import ClientError, ParamValidationError

from awscli.customizations.cloudtrail import validation


def client_error(code, message, operation):
    return ClientError({'Error': {'Code': code, 'Message': message}}, operation)


class Body:
    def __init__(self, data):
        self._f = io.BytesIO(data)

    def read(self, n=-1):
        return self._f.read(n)


class Pages:
    def __init__(self, keys):
        self._keys = keys

    def search(self, expression):
        assert expression == 'Contents[*].Key', expression
        return iter(self._keys)


class Paginator:
    def __init__(self, s3):
        self._s3 = s3

    def paginate(self, Bucket, Marker, Prefix):
        objects = self._s3.bucket(Bucket, 'ListObjects')
        return Pages(sorted(k for k in objects if k > Marker and k.startswith(Prefix)))


def check_params(**params):
    # botocore validates parameter types before sending anything.
    for name, value in params.items():
        if not isinstance(value, str):
            raise ParamValidationError(
                report=f'Invalid type for parameter {name}, value: {value}, '
                f"type: {type(value)}, valid types: <class 'str'>"
            )


class S3:
    def __init__(self, buckets):
        self.buckets = buckets

    def bucket(self, name, operation):
        check_params(Bucket=name)
        if name not in self.buckets:
            raise client_error(
                'NoSuchBucket', 'The specified bucket does not exist', operation
            )
        return self.buckets[name]

    def get_bucket_location(self, Bucket):
        self.bucket(Bucket, 'GetBucketLocation')
        return {'LocationConstraint': None}

    def get_object(self, Bucket, Key):
        check_params(Bucket=Bucket, Key=Key)
        objects = self.bucket(Bucket, 'GetObject')
        if Key not in objects:
            raise client_error(
                'NoSuchKey', 'The specified key does not exist.', 'GetObject'
            )
        o = objects[Key]
        return {
            'Body': Body(base64.b64decode(o['body'])),
            'Metadata': dict(o['metadata']),
        }

    def get_paginator(self, name):
        assert name == 'list_objects', name
        return Paginator(self)


class CloudTrail:
    def __init__(self, keys, trail):
        self._keys = keys
        self._trail = trail

    def list_public_keys(self, StartTime, EndTime):
        # botocore sends whole epoch seconds.
        start = calendar.timegm(StartTime.timetuple())
        end = calendar.timegm(EndTime.timetuple())
        return {
            'PublicKeyList': [
                k
                for k in self._keys
                if k['ValidityStartTime'] <= end and k['ValidityEndTime'] >= start
            ]
        }

    def describe_trails(self):
        return {'trailList': [self._trail]}


class Organizations:
    def __init__(self, org_id):
        self._org_id = org_id

    def describe_organization(self):
        return {'Organization': {'Id': self._org_id}}


def main():
    with open(sys.argv[1]) as f:
        scenario = json.load(f)
    req = scenario['request']
    s3 = S3(scenario['buckets'])
    trail = {
        'TrailARN': req['trail_arn'],
        'S3BucketName': req['bucket'],
        'IsOrganizationTrail': req['org_id'] is not None,
    }
    if req['prefix'] is not None:
        trail['S3KeyPrefix'] = req['prefix']
    provider = validation.S3ClientProvider(None, req['source_region'])
    provider._create_client = lambda region_name: s3
    # Without --s3-bucket the CLI reads bucket, prefix and organization from DescribeTrails,
    # which is the only way it validates organization trails.
    args = argparse.Namespace(
        trail_arn=req['trail_arn'],
        verbose=req['verbose'],
        s3_bucket=None,
        s3_prefix=None,
        account_id=req['account_id'],
        start_time=req['start'],
        end_time=req['end'],
    )
    out, err = io.StringIO(), io.StringIO()
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        cmd = validation.CloudTrailValidateLogs(None)
        try:
            cmd.handle_args(args)
            cmd._source_region = req['source_region']
            cmd.s3_client_provider = provider
            cmd.cloudtrail_client = CloudTrail(scenario['keys'], trail)
            cmd.organization_client = Organizations(req['org_id'])
            cmd._call()
            invalid = (
                cmd._invalid_digests + cmd._invalid_backfill_digests + cmd._invalid_logs
            )
            rc = 1 if invalid > 0 else 0
        except Exception as e:
            err.write('\n')
            err.write(str(e))
            err.write('\n')
            rc = 255
    finally:
        sys.stdout, sys.stderr = real
    json.dump({'stdout': out.getvalue(), 'stderr': err.getvalue(), 'rc': rc}, sys.stdout)


if __name__ == '__main__':
    main()
