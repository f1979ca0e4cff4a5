/** The audit log's CSV: RFC 4180 quoting and the spreadsheet formula guard. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntryView } from '@cctv/protocol';
import { auditCsv, auditCsvLine, csvCell } from '../src/auth/audit-csv.ts';

const entry = (over: Partial<AuditEntryView> = {}): AuditEntryView => ({
  id: '7',
  at: '2026-01-02T03:04:05.000Z',
  userId: null,
  username: 'admin',
  action: 'login',
  cameraId: null,
  nodeId: null,
  ip: '10.0.0.1',
  detail: null,
  ...over,
});

describe('audit CSV', () => {
  it('leaves plain cells alone and empties null ones', () => {
    assert.equal(csvCell('admin'), 'admin');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(undefined), '');
    assert.equal(csvCell(42), '42');
  });

  it('quotes commas, quotes and line breaks, doubling quotes', () => {
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell('cr\rhere'), '"cr\rhere"');
  });

  it('defuses cells a spreadsheet would run as a formula', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r'])
      assert.equal(csvCell(`${start}1+1`).replace(/^"/, '').at(0), "'", JSON.stringify(start));
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), '"\'=HYPERLINK(""http://x"",""y"")"');
    assert.equal(csvCell('-5'), "'-5");
    assert.equal(csvCell('a=b'), 'a=b', 'only the first character counts');
  });

  it('writes the detail as JSON in one quoted cell', () => {
    const line = auditCsvLine(entry({ action: 'user_create', detail: { user: 'x', cameras: ['a', 'b'] } }));
    assert.equal(
      line,
      '7,2026-01-02T03:04:05.000Z,admin,user_create,,,10.0.0.1,"{""user"":""x"",""cameras"":[""a"",""b""]}"\r\n',
    );
  });

  it('streams the header, then one line per entry', async () => {
    async function* two() {
      yield entry({ id: '2' });
      yield entry({ id: '1', cameraId: 'cam-1' });
    }
    let text = '';
    for await (const chunk of auditCsv(two())) text += chunk;
    assert.deepEqual(text.split('\r\n'), [
      'id,at,username,action,cameraId,nodeId,ip,detail',
      '2,2026-01-02T03:04:05.000Z,admin,login,,,10.0.0.1,',
      '1,2026-01-02T03:04:05.000Z,admin,login,cam-1,,10.0.0.1,',
      '',
    ]);
  });
});
