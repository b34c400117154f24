"""Market-data recordings: the .arbrec writer and reader (see docs/recording.md)."""
