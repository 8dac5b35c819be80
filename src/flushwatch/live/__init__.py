"""Live monitoring: recording raw frames and keeping the flush state as data arrives."""
