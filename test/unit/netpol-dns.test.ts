// DNS payloads as the datapath copies them. The hex below was captured by the e2e test
// (test/e2e/netpol-datapath.test.ts): node's resolver (c-ares) asking netpeer.mjs's responder.
import { describe, expect, it } from 'vitest';
import { parseDns } from '../../network/datapath/dns.js';

const QUERY = 'f4c601000001000000000000037777770870616c697361646504746573740000010001';
const ANSWER =
  'f4c681800001000200000000037777770870616c697361646504746573740000010001c00c000500010000003c0013037376630870616c6973616465' +
  '047465737400037376630870616c6973616465047465737400000100010000003c00040ad5004d';
const NXDOMAIN = 'c5c181830001000000000000046e6f70650870616c697361646504746573740000010001';
// example.com AAAA answer with a compression pointer for the owner name (RFC 1035 4.1.4)
const AAAA =
  '123481800001000100000000076578616d706c6503636f6d00001c0001c00c001c00010000012c0010' + '20010db8000000000000000000000001';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

describe('DNS parser', () => {
  it('reads a query: name and type', () => {
    expect(parseDns(hex(QUERY))).toEqual({
      id: 0xf4c6, response: false, rcode: 0, rcodeName: 'NOERROR', name: 'www.palisade.test', qtype: 1, qtypeName: 'A',
      answers: [], otherAnswers: 0,
    });
  });

  it('reads an answer: CNAME chain then A, with compressed owner names', () => {
    const m = parseDns(hex(ANSWER));
    expect(m).toMatchObject({ id: 0xf4c6, response: true, rcodeName: 'NOERROR', name: 'www.palisade.test', qtypeName: 'A' });
    expect(m.error).toBeUndefined();
    expect(m.answers).toEqual([
      { name: 'www.palisade.test', type: 'CNAME', ttl: 60, data: 'svc.palisade.test' },
      { name: 'svc.palisade.test', type: 'A', ttl: 60, data: '10.213.0.77' },
    ]);
  });

  it('reads NXDOMAIN', () => {
    expect(parseDns(hex(NXDOMAIN))).toMatchObject({ response: true, rcode: 3, rcodeName: 'NXDOMAIN', name: 'nope.palisade.test', answers: [] });
  });

  it('reads AAAA answers', () => {
    const m = parseDns(hex(AAAA));
    expect(m).toMatchObject({ name: 'example.com', qtypeName: 'AAAA' });
    expect(m.answers).toEqual([{ name: 'example.com', type: 'AAAA', ttl: 300, data: '2001:db8::1' }]);
  });

  it('keeps what it read from a message cut short (the 512-byte copy), and says so', () => {
    const m = parseDns(hex(ANSWER).subarray(0, 60));
    expect(m.name).toBe('www.palisade.test');
    expect(m.answers).toEqual([]);
    expect(m.error).toMatch(/^truncated/);
    expect(parseDns(Buffer.alloc(5)).error).toMatch(/truncated/);
  });

  it('stops at compression loops and bad labels instead of spinning', () => {
    const loop = hex(QUERY);
    loop.writeUInt16BE(0xc00c, 12); // the question name points at itself
    expect(parseDns(loop).error).toBe('compression loop');
    const bad = hex(QUERY);
    bad[12] = 0x80;
    expect(parseDns(bad).error).toMatch(/bad label/);
  });
});
