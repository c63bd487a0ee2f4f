"""The database: its engine, the one transaction runner, the hot writes, the rows read on the loop."""
