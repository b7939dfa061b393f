import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { allConcepts, codeSequenceItem, Npc, PRIVATE_CODING_SCHEME } from '../../../src/encode/sr/codes';

const table = JSON.parse(
  readFileSync(path.join(__dirname, '../../../../test/fixtures/encode/code-table.json'), 'utf8'),
) as Record<string, Record<string, string>>;

describe('encode codes', () => {
  it('uses standard codes whose value and meaning match the code table', () => {
    for (const c of allConcepts().filter((c) => c.scheme !== PRIVATE_CODING_SCHEME.designator)) {
      const meanings = table[c.scheme];
      assert.ok(meanings, `scheme ${c.scheme} not in the code table`);
      assert.equal(meanings[c.value], c.meaning, `${c.scheme} ${c.value}`);
    }
  });

  it('keeps private code values unique, short enough for CodeValue, and in the declared scheme', () => {
    const values = Object.values(Npc).map((c) => c.value);
    assert.equal(new Set(values).size, values.length);
    for (const c of Object.values(Npc)) {
      assert.equal(c.scheme, '99NPCAI');
      assert.ok(c.value.length <= 16 && /^[A-Z0-9-]+$/.test(c.value), c.value);
      assert.ok(c.meaning.length <= 64, c.meaning);
    }
  });

  it('refuses a code value longer than 16 characters', () => {
    assert.throws(() => codeSequenceItem({ value: 'X'.repeat(17), scheme: 'DCM', meaning: 'x' }), /too long/);
  });
});
