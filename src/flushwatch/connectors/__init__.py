"""Live connectors: websocket/REST clients that yield raw frames and feed events.

Decoding stays in :mod:`flushwatch.venues` (the same decoders the importers use): a connector
only moves frames, keeps connections healthy and reports what went wrong.
"""
