"""What a trading system keeps on disk: the state directory's layout, atomic
writes, the lock that gives it one owner, and the trading state."""
