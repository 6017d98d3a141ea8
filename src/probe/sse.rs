//! Server-sent-events decoding for streamed chat completions.
