/**
 * The one error model (client/status-codes.ts): every DomainError code maps to a status code,
 * every status code to a Connect name and HTTP status — the very ones the Connect library uses
 * and grpc-js numbers — and the transient set is what clients retry.
 */
import { Code as ConnectCode } from '@connectrpc/connect';
import { codeToHttpStatus, codeToString } from '@connectrpc/connect/protocol-connect';
import { status as grpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Code, codeName, codeOfConnectName, codeOfHttpStatus, ERROR_CODES, isTransientCode, reasonOf, STATUS, type CodeName } from '../../client/status-codes.js';
import { DomainError } from '../../server/domain/errors.js';
import { toStatus } from '../../server/api/status.js';

const NAMES = Object.keys(Code) as CodeName[];

describe('the status table', () => {
  it('every DomainError code maps to its status code, and the message is kept', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(0);
    for (const code of ERROR_CODES) {
      const s = toStatus(new DomainError(code, `m ${code}`), 'r1');
      expect(s.code, code).toBe(Code[code]);
      expect(s.details).toBe(`m ${code}`);
    }
    expect([...ERROR_CODES].sort()).toEqual(NAMES.filter((n) => STATUS[n].domain).sort());
    expect(ERROR_CODES).not.toContain('OK');
  });

  it('every status code has a row, numbered as gRPC numbers it', () => {
    expect(Object.keys(STATUS).sort()).toEqual([...NAMES].sort());
    for (const name of NAMES) {
      expect(Code[name], name).toBe(grpcStatus[name]);
      expect(codeName(Code[name])).toBe(name);
      expect(reasonOf(Code[name])).toBe(STATUS[name]);
    }
    expect(codeName(99)).toBe('CODE_99');
  });

  it("every status code maps to the Connect library's name and HTTP status", () => {
    for (const name of NAMES.filter((n) => n !== 'OK')) {
      const code = Code[name];
      expect(STATUS[name].connect, name).toBe(codeToString(code as ConnectCode));
      expect(STATUS[name].http, name).toBe(codeToHttpStatus(code as ConnectCode));
      expect(codeOfConnectName(STATUS[name].connect)).toBe(code);
    }
    expect(codeOfConnectName('no_such_code')).toBe(Code.UNKNOWN);
    expect(codeOfHttpStatus(401)).toBe(Code.UNAUTHENTICATED);
    expect(codeOfHttpStatus(418)).toBe(Code.UNKNOWN);
  });

  it('the transient codes are the ones a client retries', () => {
    const transient = NAMES.filter((n) => isTransientCode(Code[n]));
    expect(transient.sort()).toEqual(['ABORTED', 'CANCELLED', 'DEADLINE_EXCEEDED', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'UNKNOWN'].sort());
    expect(isTransientCode(99)).toBe(false);
  });

  it('errors that are not DomainErrors never show their message', () => {
    expect(toStatus(new Error('secret value inside'), 'r2')).toMatchObject({ code: Code.INTERNAL, details: 'internal error (request r2)' });
    expect(toStatus(Object.assign(new Error('x'), { code: 'SQLITE_BUSY' }), 'r3').code).toBe(Code.UNAVAILABLE);
  });
});
