#!/usr/bin/env python3
"""Regenerates src/auth/testdata/botocore/*.http: requests signed by botocore.

Run by hand (never from tests): python3 src/auth/testdata/gen_botocore_fixtures.py
Each file: '# key: value' lines (signing context), then the HTTP/1.1 request as
sent on the wire (request line, headers, blank line, body).
"""
import datetime
import os
import sys
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'botocore')
NOW = datetime.datetime(2024, 3, 5, 6, 7, 8, tzinfo=datetime.timezone.utc)
AKID = 'AKIDMUONEXAMPLE00001'
SECRET = 'muonSecretKeyExample/abcdefghijklmnop+1234'
TOKEN = 'FwoGZXIvYXdzEMuon//////////SessionTokenExample+abc/def=='
ENDPOINT = 'http://localhost:4566'
REGION = 'ap-southeast-2'


class Captured(Exception):
    pass


def write(name, ctx, method, url, headers, body):
    parts = urlsplit(url)
    target = parts.path + ('?' + parts.query if parts.query else '')
    if isinstance(body, str):
        body = body.encode()
    body = body or b''
    lines = [f'# {k}: {v}' for k, v in ctx.items()]
    lines.append(f'{method} {target} HTTP/1.1')
    for k, v in headers:
        if isinstance(v, bytes):
            v = v.decode()
        lines.append(f'{k}:{v}')
    data = ('\n'.join(lines) + '\n\n').encode() + body
    with open(os.path.join(OUT, name + '.http'), 'wb') as f:
        f.write(data)
    print('wrote', name)


def context(service, s3, token=None, **extra):
    ctx = {
        'now': int(NOW.timestamp()),
        'region': REGION,
        'service': service,
        's3': 1 if s3 else 0,
        'access_key_id': AKID,
        'secret_access_key': SECRET,
    }
    if token:
        ctx['session_token'] = token
    ctx.update(extra)
    return ctx


def capture(client, call):
    box = {}

    def handler(request, **kwargs):
        box['req'] = request
        raise Captured()

    client.meta.events.register('before-send.*', handler)
    try:
        call()
    except Captured:
        pass
    finally:
        client.meta.events.unregister('before-send.*', handler)
    req = box['req']
    headers = list(req.headers.items())
    host = urlsplit(req.url).netloc
    if not any(k.lower() == 'host' for k, _ in headers):
        headers.insert(0, ('Host', host))
    body = req.body
    if hasattr(body, 'read'):
        body = body.read()
    return req.method, req.url, headers, body


def make_client(service, token=None, **cfg):
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION,
        aws_access_key_id=AKID, aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=botocore.config.Config(s3={'addressing_style': 'path'},
                                      signature_version='s3v4' if service == 's3' else None,
                                      **cfg))


def main():
    os.makedirs(OUT, exist_ok=True)
    with mock.patch('botocore.auth.get_current_datetime', return_value=NOW):
        kin = make_client('kinesis')
        write('kinesis-put-record', context('kinesis', False),
              *capture(kin, lambda: kin.put_record(
                  StreamName='muon-live', Data=b'{"detector":"D-17","seq":42}',
                  PartitionKey='D-17')))

        kin_tok = make_client('kinesis', token=TOKEN)
        write('kinesis-list-streams-session-token', context('kinesis', False, TOKEN),
              *capture(kin_tok, lambda: kin_tok.list_streams()))

        sts = make_client('sts', token=TOKEN)
        write('sts-get-caller-identity', context('sts', False, TOKEN),
              *capture(sts, lambda: sts.get_caller_identity()))

        s3 = make_client('s3', request_checksum_calculation='when_required')
        key = 'site a/run+1/\u00df=x~(1).json'
        write('s3-put-object', context('s3', True),
              *capture(s3, lambda: s3.put_object(
                  Bucket='muon-data', Key=key, Body=b'line 1\nline 2\n')))
        write('s3-list-objects', context('s3', True),
              *capture(s3, lambda: s3.list_objects_v2(
                  Bucket='muon-data', Prefix='site a/', Delimiter='/', MaxKeys=5)))

        for name, token in (('s3-presigned-get', None),
                            ('s3-presigned-get-session-token', TOKEN)):
            c = make_client('s3', token=token)
            url = c.generate_presigned_url(
                'get_object', Params={'Bucket': 'muon-data', 'Key': key},
                ExpiresIn=900)
            write(name, context('s3', True, token, expires=900), 'GET', url,
                  [('Host', urlsplit(url).netloc)], b'')

        # A non-S3 service whose path is already percent-encoded on the wire:
        # the canonical URI encodes it a second time.
        creds = botocore.credentials.Credentials(AKID, SECRET)
        req = botocore.awsrequest.AWSRequest(
            method='GET', url=ENDPOINT + '/things/a%20b/c%2Fd/./e',
            headers={'Host': 'localhost:4566', 'X-Muon-Note': '  two   spaces  '})
        botocore.auth.SigV4Auth(creds, 'execute-api', REGION).add_auth(req)
        write('execute-api-encoded-path', context('execute-api', False),
              req.method, req.url, list(req.headers.items()), b'')


if __name__ == '__main__':
    sys.exit(main())
