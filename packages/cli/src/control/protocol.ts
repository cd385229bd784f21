// The control API wire format: newline-delimited JSON over a Unix socket (see API.md).
//   request  {"id": 1, "method": "ls", "params": {...}}
//   reply    {"id": 1, "result": {...}}  or  {"id": 1, "error": {"code": "NOT_FOUND", "message": "..."}}
//   stream   {"id": 1, "event": "data", "data": {...}} ... {"id": 1, "end": true}
// Bytes (console data) travel base64-encoded in a `data` string.

export const API_VERSION = 1;

export type ErrorCode = 'BAD_REQUEST' | 'UNKNOWN_METHOD' | 'NOT_FOUND' | 'CONFLICT' | 'UNAVAILABLE' | 'INTERNAL';

export interface Request {
  id: number | string;
  method: string;
  params?: Record<string, unknown>;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** The fleet/config reason when there is one (VM_NOT_FOUND, CONFIG_INVALID, ...). */
  reason?: string;
}

export type Reply =
  | { id: number | string; result: unknown }
  | { id: number | string; error: ErrorBody }
  | { id: number | string; event: string; data: unknown }
  | { id: number | string; end: true };
