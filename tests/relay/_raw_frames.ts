/**
 * Hand-written protobuf bytes of relay frames, independent of our codec, as an upstream peer
 * (prost) would produce them: default scalars omitted, fields in tag order.
 * @module
 */
const encoder = new TextEncoder();

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function field(tag: number, bytes: Uint8Array | number[]): number[] {
  return [(tag << 3) | 2, ...varint(bytes.length), ...bytes];
}

function uint(tag: number, value: number): number[] {
  return value === 0 ? [] : [tag << 3, ...varint(value)];
}

function header(streamId: string, extra: { ack?: number; ackBits?: number } = {}): number[] {
  return [
    0x08,
    0x01,
    ...field(2, encoder.encode(streamId)),
    ...(extra.ack === undefined ? [] : [0x18, ...varint(extra.ack)]),
    ...uint(4, extra.ackBits ?? 0),
  ];
}

/** `resume{next_seq}` as the upstream legacy harness sends first. */
export function rawResume(streamId: string, nextSeq = 0): Uint8Array {
  return new Uint8Array([...header(streamId), ...field(7, uint(1, nextSeq))]);
}

/** One data frame; defaults to a legacy single-segment message. */
export function rawData(
  streamId: string,
  seq: number,
  payload: string | Uint8Array,
  options: { index?: number; count?: number; ack?: number; ackBits?: number } = {},
): Uint8Array {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const body = [
    ...uint(1, seq),
    ...uint(2, options.index ?? 0),
    ...uint(3, options.count ?? 1),
    ...field(4, bytes),
  ];
  return new Uint8Array([...header(streamId, options), ...field(5, body)]);
}

/** `ack_frame` with the given header ack fields (and our `RelayAck.features`, 0: none). */
export function rawAck(streamId: string, ack?: number, ackBits = 0, features = 0): Uint8Array {
  return new Uint8Array([...header(streamId, { ack, ackBits }), ...field(6, uint(1, features))]);
}

/** `reset{reason}`. */
export function rawReset(streamId: string, reason: string): Uint8Array {
  return new Uint8Array([...header(streamId), ...field(8, field(1, encoder.encode(reason)))]);
}

/** `handshake{payload}`. */
export function rawHandshake(streamId: string, payload: Uint8Array): Uint8Array {
  return new Uint8Array([...header(streamId), ...field(10, field(1, payload))]);
}

/** A frame with an arbitrary version. */
export function rawWithVersion(version: number, streamId: string): Uint8Array {
  return new Uint8Array([
    0x08,
    ...varint(version),
    ...field(2, encoder.encode(streamId)),
    ...field(7, []),
  ]);
}
