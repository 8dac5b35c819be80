"""The ccxt.pro adapter's frames: decoded like any venue's (see :mod:`.decode`)."""
