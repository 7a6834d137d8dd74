import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED, redactString, redactValue, redactUrl } from '../../src/evidence/redact.js';

const accountKey = `${'A'.repeat(40)}${'b9+/'.repeat(11)}${'Z'.repeat(2)}==`;

test('a storage connection string pasted into a tag loses its key', () => {
  const doc = {
    id: '/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a',
    tags: { note: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${accountKey};EndpointSuffix=core.windows.net` },
  };
  const { value, changed } = redactValue(doc);
  assert.equal(changed, true);
  assert.ok(!JSON.stringify(value).includes(accountKey));
  assert.match(value.tags.note, /AccountKey=\[REDACTED\];EndpointSuffix/);
  assert.match(value.tags.note, /AccountName=a/);
});

test('SAS signatures, bearer tokens, JWTs and URL passwords are redacted', () => {
  const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ.c2lnbmF0dXJlLXZhbHVl';
  assert.equal(
    redactUrl('https://a.blob.core.windows.net/c/b?sv=2024-01-01&se=2030&sig=abc%2Bdef%3D&sp=r'),
    `https://a.blob.core.windows.net/c/b?sv=2024-01-01&se=2030&sig=${REDACTED}&sp=r`,
  );
  assert.equal(redactString(`Authorization: Bearer ${jwt}`), `Authorization: Bearer ${REDACTED}`);
  assert.equal(redactString(`token ${jwt} end`), `token ${REDACTED} end`);
  assert.equal(redactString('postgres://admin:hunter2@db.example:5432/x'), `postgres://admin:${REDACTED}@db.example:5432/x`);
  assert.equal(redactString(`key ${accountKey}`), `key ${REDACTED}`);
  assert.equal(redactString('Server=x;Password="p;w";Database=y'), `Server=x;Password=${REDACTED};Database=y`);
});

test('secret-named properties lose their values, whatever they hold; ordinary text is untouched', () => {
  const input = {
    properties: {
      administratorLogin: 'pgadmin',
      administratorLoginPassword: 'S3cret!',
      primaryKey: { value: 'x' },
      minimumTlsVersion: 'TLS1_2',
      keyvaultproperties: { keyname: 'cmk', keyversion: '' },
    },
  };
  const { value, changed } = redactValue(input);
  assert.equal(changed, true);
  assert.equal(value.properties.administratorLoginPassword, REDACTED);
  assert.equal(value.properties.primaryKey as unknown, REDACTED);
  assert.equal(value.properties.administratorLogin, 'pgadmin');
  assert.deepEqual(value.properties.keyvaultproperties, { keyname: 'cmk', keyversion: '' });
  const clean = redactValue({ a: 'TLS1_2', b: ['x', 1, true, null] });
  assert.equal(clean.changed, false);
  assert.deepEqual(clean.value, { a: 'TLS1_2', b: ['x', 1, true, null] });
});

test('a private key in any string is removed', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----';
  assert.equal(redactString(`x ${pem} y`), `x ${REDACTED} y`);
});
