// The record codec (FORMAT.md "Records"), one file per job: what a record is and how its
// fields are checked (record-input), the frames of record objects (record-frame), of bare
// payloads (payload-frames) and of atomic batches (batch-frame), the layout they share
// (frame-writing), and decoding (record-decode). This module is their one public face.
export { batchFrameSize, encodeBatchFrame, encodeBatchFrameUnsealed } from './batch-frame.js';
export {
  encodePayloadFramesUnsealed,
  encodePayloadFrameUnsealed,
  payloadFrameSize,
} from './payload-frames.js';
export {
  decodeBatchAt,
  decodeBatchBody,
  decodeRecordAt,
  decodeRecordBody,
  toBuffer,
} from './record-decode.js';
export {
  encodeRecordFrame,
  encodeRecordFramesUnsealed,
  encodeRecordFrameUnsealed,
  recordFrameSize,
  recordFramesSize,
} from './record-frame.js';
export {
  RECORD_FIELDS,
  recordInputBytes,
  validateRecordInput,
  type WalRecord,
  type WalRecordInput,
} from './record-input.js';
