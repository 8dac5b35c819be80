"""Pure analytics kernels: arrays or frames in, arrays, frames or result records out.

Nothing here reads files, the store, a clock or configuration files: parameters arrive as
arguments (see :mod:`flushwatch.config` for the documented defaults).
"""
