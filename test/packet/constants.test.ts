// The addon's `constants` (what the C side compiled with) against src/generated/consts.ts (what the
// control plane builds plans and sizes memory with, generated from the same header): one source, checked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONSTANTS } from '../../src/generated/consts';
import { loadNative } from '../../src/native';

describe('constants shared by C and TypeScript', () => {
  it('the addon exports the same scheduler kinds, TCP state names and session bytes, frozen', () => {
    const native = loadNative(); // no EAL needed to read them
    assert.deepEqual(native.constants, CONSTANTS);
    assert.ok(Object.isFrozen(native.constants) && Object.isFrozen(native.constants.tcpStates), 'frozen');
  });
});
