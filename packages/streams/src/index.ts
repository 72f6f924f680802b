export { isStreamError, type StreamError, StreamErrorCode } from './errors.js';
export { type ProducerStamp, STREAMS_RECORD_TYPE, type StreamConfig } from './frame.js';
export { MAX_NAME_BYTES } from './names.js';
export { formatOffset, type Offset, parseOffset } from './offsets.js';
export { type AppendResult, PRODUCER_WINDOW } from './producers.js';
export type { ReadBounds, ReadResult, StreamRecord } from './read.js';
export { Streams } from './streams.js';
export type {
  AppendOptions,
  CreateOptions,
  StreamInfo,
  StreamsOptions,
  StreamsRecovery,
  TailOptions,
} from './streams-options.js';
