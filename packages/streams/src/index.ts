export { isStreamError, type StreamError, StreamErrorCode } from './errors.js';
export { type ProducerStamp, STREAMS_RECORD_TYPE, type StreamConfig } from './frame.js';
export { MAX_NAME_BYTES } from './names.js';
export { formatOffset, type Offset, parseOffset } from './offsets.js';
export { type AppendResult, PRODUCER_WINDOW } from './producers.js';
export type { ReadBounds, ReadResult, StreamRecord } from './read.js';
export {
  type AppendOptions,
  type CreateOptions,
  type StreamInfo,
  Streams,
  type StreamsOptions,
  type StreamsRecovery,
  type TailOptions,
} from './streams.js';
