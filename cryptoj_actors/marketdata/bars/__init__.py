"""Recorded OHLCV bars from CSV files, and several products lined up in time.

One module per job, each importing only the ones before it here:
``times`` (a layout's time texts to ns), ``symbols`` (a file's symbol to a
product id), ``layouts`` (which layout a file
is in, the table of layouts read), ``rows`` (a data row to exact values,
checked), ``series`` (one product's bars and the notes on their defects:
:func:`~cryptoj_actors.marketdata.bars.series.load_bars`) and ``align``
(one product's files joined in time, several products on one time grid). Their error is
:class:`~cryptoj_actors.marketdata.errors.DataError`.
"""
